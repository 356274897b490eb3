"""UPI payment links (``upi://pay?…``) and their QR codes, printed on the bill.

A QR only invites a payment: the app cannot see it arrive, so staff still record it.
"""

from __future__ import annotations

import io
from urllib.parse import quote

import segno
from sqlalchemy.orm import Session

from core.billing.bills import access_bill
from core.billing.catalogue import billing_settings
from core.context import Actor
from core.errors import ValidationFailed


def upi_uri(*, vpa: str, payee_name: str, amount_minor: int, note: str) -> str:
    """Build the NPCI deep link: payee VPA, payee name, amount in rupees, note, INR."""
    params = {
        "pa": vpa,
        "pn": payee_name,
        "am": f"{amount_minor // 100}.{amount_minor % 100:02d}",
        "tn": note,
        "cu": "INR",
    }
    return "upi://pay?" + "&".join(f"{k}={quote(v, safe='@.-_')}" for k, v in params.items())


def bill_upi_uri(session: Session, actor: Actor, *, bill_id: int) -> str | None:
    """Return the UPI link for the bill's outstanding amount, or None when nothing is due.

    Raises ``ValidationFailed`` when the clinic has set no UPI ID.
    """
    bill = access_bill(session, actor, bill_id)
    settings = billing_settings(session, actor)
    if not settings.upi_vpa:
        raise ValidationFailed("Set the clinic's UPI ID first", field="upi_vpa")
    outstanding = bill.total_minor - bill.paid_minor
    if outstanding <= 0:
        return None
    return upi_uri(
        vpa=settings.upi_vpa,
        payee_name=settings.payee_name,
        amount_minor=outstanding,
        note=f"Bill {bill.number}",
    )


def qr_png(data: str, *, scale: int = 6) -> bytes:
    """A PNG QR code of ``data`` (medium error correction, a 2-module quiet zone)."""
    out = io.BytesIO()
    segno.make(data, error="m", micro=False).save(out, kind="png", scale=scale, border=2)
    return out.getvalue()
