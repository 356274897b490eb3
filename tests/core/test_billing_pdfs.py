"""Bill, receipt and token slip PDFs: the text is right (pdftotext) and shaping happened.

Shaping is proved from the font embedded in the PDF (notes §3.4): a shaped Devanagari or
Tamil line uses conjunct and vowel-sign glyphs that no character maps to; unshaped text
extracts perfectly, so extraction alone proves nothing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import shutil
import subprocess
import unicodedata

import pytest
from fontTools.ttLib import TTFont
from pypdf import PdfReader

from core.billing import bills, catalogue, payments, pdfs
from core.clock import FrozenClock
from core.documents.pdf import ClinicHeading, ClinicPDF
from core.patients.importing import PatientRow, import_patients
from core.patients.phones import PhoneVault
from core.queue.issuing import issue_token
from core.signage import slip
from tests.support import add_doctor

NOW = dt.datetime(2026, 12, 7, 4, 0, tzinfo=dt.UTC)  # Monday 09:30 in Kolkata
HINDI = "राम कृष्ण शर्मा"
TAMIL = "முருகன் செல்வம்"

needs_poppler = pytest.mark.skipif(
    shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) is not installed"
)


def squash(text: str) -> str:
    """NFC text without whitespace and control characters (pdftotext spaces shaped clusters)."""
    text = unicodedata.normalize("NFC", text)
    return "".join(c for c in text if not c.isspace() and unicodedata.category(c) != "Cc")


def pdf_text(pdf: bytes) -> str:
    out = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", "-", "-"], input=pdf, capture_output=True, check=True
    )
    return squash(out.stdout.decode())


def unmapped_glyphs(pdf: bytes) -> dict[str, int]:
    """Per embedded font: glyphs in the subset that no cmap entry reaches (shaping output)."""
    counts: dict[str, int] = {}
    for page in PdfReader(io.BytesIO(pdf)).pages:
        for ref in page["/Resources"]["/Font"].values():
            font = ref.get_object()
            descendant = font["/DescendantFonts"][0].get_object()
            data = descendant["/FontDescriptor"]["/FontFile2"].get_data()
            tt = TTFont(io.BytesIO(data))
            mapped = set(tt.getBestCmap().values())
            extra = set(tt.getGlyphOrder()) - mapped - {".notdef"}
            counts[str(font["/BaseFont"])] = max(counts.get(str(font["/BaseFont"]), 0), len(extra))
    return counts


def _paid_bill(session, clinic):
    desk = dataclasses.replace(clinic.receptionist, clock=FrozenClock(NOW))
    doctor = add_doctor(session, clinic, name=f"Dr. {TAMIL}", fee_minor=50000)
    (patient_id,) = import_patients(
        session, clinic.system, vault=PhoneVault("k"), rows=[PatientRow(HINDI)]
    ).ids
    token = issue_token(
        session,
        desk,
        patient_id=patient_id,
        department_id=clinic.department.id,
        kind="walk_in",
        doctor_id=doctor.id,
    )
    bill = bills.open_bill(session, desk, token_id=token.id)
    ecg = catalogue.add_catalogue_item(
        session,
        clinic.admin,
        code="ECG",
        name="ECG",
        kind="test",
        unit_price_minor=150000,
        tax_rate_bp=1800,
    )
    bills.add_item(session, desk, bill_id=bill.id, catalogue_item_id=ecg.id)
    catalogue.set_billing_settings(
        session,
        clinic.admin,
        upi_vpa="sunrise@okhdfc",
        payee_name="Sunrise",
        gstin="29abcde1234f1z5",
    )
    first = payments.record_payment(
        session, desk, bill_id=bill.id, mode="cash", amount_minor=100000
    )
    return desk, bill, token, first


@needs_poppler
def test_bill_pdf_shows_names_lines_totals_and_upi(session, clinic_a):
    desk, bill, _, _ = _paid_bill(session, clinic_a)
    pdf = pdfs.bill_pdf(session, desk, bill_id=bill.id)
    text = pdf_text(pdf)
    for expected in (
        HINDI,
        TAMIL,
        "BillB-000001",
        "GSTIN29ABCDE1234F1Z5",
        "Consultation",
        "Exempt",
        "₹1,500.00",
        "18%₹270.00",
        "Total₹2,270.00",
        "Paid₹1,000.00",
        "Outstanding₹1,270.00",
        "R-000001",
        "Pay₹1,270.00byUPI",
    ):
        assert squash(expected) in text, expected
    assert len(PdfReader(io.BytesIO(pdf)).pages[0].images) == 1  # the UPI QR


@needs_poppler
def test_receipt_pdf_after_the_rest_is_paid_says_paid_in_full(session, clinic_a):
    desk, bill, _, first = _paid_bill(session, clinic_a)
    last = payments.record_payment(
        session, desk, bill_id=bill.id, mode="upi", amount_minor=127000, reference="UTR 88"
    )
    text = pdf_text(pdfs.receipt_pdf(session, desk, payment_id=last.id))
    for expected in ("ReceiptR-000002", "₹1,270.00byUPI(UTR88)", "B-000001", HINDI, "Paidinfull"):
        assert squash(expected) in text, expected
    early = pdf_text(pdfs.receipt_pdf(session, desk, payment_id=first.id))
    assert squash("Outstanding₹1,270.00") in early


def test_shaping_puts_substituted_glyphs_in_the_embedded_fonts(session, clinic_a):
    desk, bill, _, _ = _paid_bill(session, clinic_a)
    shaped = unmapped_glyphs(pdfs.bill_pdf(session, desk, bill_id=bill.id))
    baseline = unmapped_glyphs(_unshaped(f"{HINDI} {TAMIL}"))
    deva = next(k for k in shaped if "Devanagari" in k)
    taml = next(k for k in shaped if "Tamil" in k)
    assert shaped[deva] > baseline.get(deva, 0)
    assert shaped[taml] > baseline.get(taml, 0)


def _unshaped(text: str) -> bytes:
    pdf = ClinicPDF(ClinicHeading("Clinic"))
    pdf.set_text_shaping(False)
    pdf.multi_cell(0, 5, text)
    return pdf.render()


@needs_poppler
@pytest.mark.parametrize(("size", "width_pt"), [("80mm", 226.77), ("a6", 297.64)])
def test_token_slip_in_both_sizes_has_code_doctor_room_and_a_qr(session, clinic_a, size, width_pt):
    desk, _, token, _ = _paid_bill(session, clinic_a)
    pdf = slip.token_slip_pdf(
        session, desk, token_id=token.id, secret="s3cret", base_url="https://q.example/", size=size
    )
    page = PdfReader(io.BytesIO(pdf)).pages[0]
    assert float(page.mediabox.width) == pytest.approx(width_pt, abs=0.1)
    assert len(page.images) == 1
    text = pdf_text(pdf)
    for expected in (token.code, f"Dr.{squash(TAMIL)}", "Room1", "Scantofollowyourturnlive"):
        assert squash(expected) in text, expected


def test_slip_link_is_the_signed_token_page(session, clinic_a):
    from core.signage.links import verify_token_ref

    desk, _, token, _ = _paid_bill(session, clinic_a)
    seen = []
    original = slip.render_slip

    def capture(view, *, link, size):
        seen.append(link)
        return original(view, link=link, size=size)

    slip.render_slip = capture
    try:
        slip.token_slip_pdf(session, desk, token_id=token.id, secret="s", base_url="https://q.in")
    finally:
        slip.render_slip = original
    (link,) = seen
    assert link.startswith("https://q.in/t/")
    ref = verify_token_ref("s", link.rsplit("/", 1)[1], now=NOW)
    assert (ref.tenant_id, ref.token_id) == (clinic_a.tenant_id, token.id)


def test_a_receipt_goes_to_whatsapp_once_as_a_stored_document(session, clinic_a):
    from sqlalchemy import func, select

    from core.billing.sending import send_receipt
    from core.documents.store import document_content
    from db.models import Document

    desk, _, _, payment = _paid_bill(session, clinic_a)
    first = send_receipt(session, desk, payment_id=payment.id)
    again = send_receipt(session, desk, payment_id=payment.id)
    assert first.id == again.id and first.kind == "whatsapp.document"
    document_id = first.payload["document_id"]
    assert document_content(session, desk, document_id).startswith(b"%PDF")
    stored = session.scalar(
        select(func.count()).select_from(Document).where(Document.tenant_id == clinic_a.tenant_id)
    )
    assert stored == 1
