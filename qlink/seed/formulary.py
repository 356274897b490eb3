"""The demo clinics' formulary: common Indian OPD medicines with their usual line."""

from __future__ import annotations

from core.clinical.formulary import FormularySpec

AF, BF = "after_food", "before_food"
COMMON_MEDICINES = (
    FormularySpec("Paracetamol", "500mg", "tablet", "1-1-1", AF, 3),
    FormularySpec("Paracetamol", "650mg", "tablet", "1-0-1", AF, 3),
    FormularySpec("Ibuprofen", "400mg", "tablet", "1-0-1", AF, 7),
    FormularySpec("Diclofenac", "50mg", "tablet", "1-0-1", AF, 5),
    FormularySpec("Calcium carbonate + Vitamin D3", "500mg", "tablet", "1-0-0", AF, 30),
    FormularySpec("Pantoprazole", "40mg", "tablet", "1-0-0", BF, 14),
    FormularySpec("Omeprazole", "20mg", "capsule", "1-0-0", BF, 14),
    FormularySpec("Amoxicillin", "500mg", "capsule", "1-1-1", AF, 5),
    FormularySpec("Azithromycin", "500mg", "tablet", "1-0-0", AF, 3),
    FormularySpec("Cetirizine", "10mg", "tablet", "0-0-1", AF, 5),
    FormularySpec("Metformin", "500mg", "tablet", "1-0-1", AF, 30),
    FormularySpec("Amlodipine", "5mg", "tablet", "1-0-0", AF, 30),
    FormularySpec("Telmisartan", "40mg", "tablet", "1-0-0", AF, 30),
    FormularySpec("Atorvastatin", "10mg", "tablet", "0-0-1", AF, 30),
    FormularySpec("Ondansetron", "4mg", "tablet", "SOS", BF, 3),
    FormularySpec("ORS", "21g", "sachet", "1-1-1", None, 3),
    FormularySpec("Vitamin B complex", None, "capsule", "1-0-0", AF, 30),
    FormularySpec("Salbutamol inhaler", "100mcg", "inhaler", "SOS", None, 30),
)
