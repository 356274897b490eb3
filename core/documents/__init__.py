"""A patient's documents: PDFs QLink generates (receipts, prescriptions) and the files kept."""
