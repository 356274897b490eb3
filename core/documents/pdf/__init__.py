"""The PDF layer every QLink document is built on: fonts, clinic header, tables, footer.

fpdf2 with HarfBuzz text shaping (``uharfbuzz``) and the committed Noto Sans fonts (Latin,
Devanagari, Tamil; SIL OFL 1.1, see ``fonts/OFL.txt``), so a Hindi or Tamil name renders with
its conjuncts and vowel signs in place. Rendering happens after commit: callers read a view
inside the transaction, then hand plain values here.
"""

from core.documents.pdf.layout import ClinicHeading, ClinicPDF, Column, amounts_box

__all__ = ["ClinicHeading", "ClinicPDF", "Column", "amounts_box"]
