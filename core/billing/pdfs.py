"""The bill and receipt as PDFs, built on the shared layer in ``core.documents.pdf``."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from core.billing.catalogue import billing_settings
from core.billing.money import format_inr
from core.billing.upi import bill_upi_uri, qr_png
from core.billing.views import BillView, LineView, PaymentView, bill_view, receipt_bill
from core.context import Actor
from core.documents.pdf import ClinicHeading, ClinicPDF, Column, amounts_box
from core.errors import ValidationFailed

STATUS_TEXT = {"pending": "Unpaid", "partially_paid": "Partly paid", "paid": "Paid"}
MODE_TEXT = {"cash": "Cash", "card": "Card", "upi": "UPI"}
_COLUMNS = (
    Column("Item", 6),
    Column("Qty", 1, "R"),
    Column("Rate", 2, "R"),
    Column("Discount", 2, "R"),
    Column("GST", 2, "R"),
    Column("Amount", 2.4, "R"),
)


def bill_pdf(session: Session, actor: Actor, *, bill_id: int) -> bytes:
    """Render the bill with its lines, totals, receipts and a UPI QR for what is still due."""
    view = bill_view(session, actor, bill_id=bill_id)
    settings = billing_settings(session, actor)
    try:
        link = bill_upi_uri(session, actor, bill_id=bill_id)
    except ValidationFailed:
        link = None  # no UPI ID set: the bill prints without a QR
    return render_bill(view, gstin=settings.gstin, upi_link=link)


def receipt_pdf(session: Session, actor: Actor, *, payment_id: int) -> bytes:
    """Render the receipt of one payment with the bill's standing after it."""
    view, payment = receipt_bill(session, actor, payment_id=payment_id)
    return render_receipt(view, payment, gstin=billing_settings(session, actor).gstin)


def render_bill(view: BillView, *, gstin: str | None, upi_link: str | None) -> bytes:
    """Lay out a bill (no database): header, patient, lines, totals, receipts, UPI QR."""
    pdf = ClinicPDF(
        _heading(view, gstin),
        footer_text="Consultation fees are exempt from GST. Thank you.",
    )
    pdf.title_line(f"Bill {view.number}  ·  {STATUS_TEXT.get(view.status, view.status)}")
    pdf.facts([*_who(view), ("Date", _local(view.issued_at, view.timezone))])
    pdf.grid(_COLUMNS, [_line_row(line) for line in view.lines])
    amounts_box(pdf, _totals(view))
    if view.payments:
        pdf.title_line("Payments", size=10)
        pdf.grid(
            (Column("Receipt", 2), Column("Date", 3), Column("Mode", 2), Column("Amount", 2, "R")),
            [
                (
                    p.receipt_number,
                    _local(p.received_at, view.timezone),
                    _mode(p),
                    format_inr(p.amount_minor),
                )
                for p in view.payments
            ],
        )
    if upi_link and view.outstanding_minor > 0:
        pdf.title_line(f"Pay {format_inr(view.outstanding_minor)} by UPI: scan with any UPI app")
        pdf.qr(qr_png(upi_link), size=36, x=pdf.l_margin)
        pdf.set_font("NotoSans", "", 8)
        pdf.multi_cell(0, 4, "Show the payment on your phone at the desk: staff record it.")
    return pdf.render()


def render_receipt(view: BillView, payment: PaymentView, *, gstin: str | None) -> bytes:
    """Lay out one payment's receipt (A5): amount and mode, the bill it pays, what is left."""
    pdf = ClinicPDF(_heading(view, gstin), page=(148, 210), margin=10)  # A5 (fpdf2 warns on "A5")
    pdf.title_line(f"Receipt {payment.receipt_number}")
    facts = [
        ("Received", f"{format_inr(payment.amount_minor)} by {_mode(payment)}"),
        ("On", _local(payment.received_at, view.timezone)),
        ("For bill", view.number),
        *_who(view),
    ]
    pdf.facts(facts)
    pdf.rule()
    pdf.ln(2)
    upto = [p.id for p in view.payments].index(payment.id) + 1
    earlier = sum(p.amount_minor for p in view.payments[:upto])
    left = view.total_minor - earlier
    amounts_box(
        pdf,
        [
            ("Bill total", format_inr(view.total_minor), False),
            ("Paid to date", format_inr(earlier), False),
            ("Outstanding", format_inr(left) if left else "Paid in full", True),
        ],
    )
    return pdf.render()


def _heading(view: BillView, gstin: str | None) -> ClinicHeading:
    return ClinicHeading(
        view.clinic, view.branch, view.address, extra=f"GSTIN {gstin}" if gstin else None
    )


def _who(view: BillView) -> list[tuple[str, str]]:
    pairs = [("Patient", f"{view.patient_name} ({view.patient_code})")]
    if view.doctor_name:
        pairs.append(("Doctor", view.doctor_name))
    if view.token_code:
        pairs.append(("Token", view.token_code))
    return pairs


def _line_row(line: LineView) -> tuple[str, ...]:
    gst = (
        "Exempt" if line.gst_exempt else f"{line.tax_rate_bp / 100:g}% {format_inr(line.tax_minor)}"
    )
    return (
        line.description,
        str(line.quantity),
        format_inr(line.unit_price_minor),
        format_inr(line.discount_minor) if line.discount_minor else "",
        gst,
        format_inr(line.amount_minor),
    )


def _totals(view: BillView) -> list[tuple[str, str, bool]]:
    rows = [("Subtotal", format_inr(view.subtotal_minor), False)]
    if view.discount_minor:
        rows.append(("Discount", f"-{format_inr(view.discount_minor)}", False))
    if view.tax_minor:
        rows.append(("GST", format_inr(view.tax_minor), False))
    rows += [
        ("Total", format_inr(view.total_minor), True),
        ("Paid", format_inr(view.paid_minor), False),
        ("Outstanding", format_inr(view.outstanding_minor), True),
    ]
    return rows


def _mode(payment: PaymentView) -> str:
    mode = MODE_TEXT.get(payment.mode, payment.mode)
    return f"{mode} ({payment.reference})" if payment.reference else mode


def _local(at: dt.datetime, zone: str) -> str:
    return at.astimezone(ZoneInfo(zone)).strftime("%d %b %Y, %H:%M")
