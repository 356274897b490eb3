"""Send a payment's receipt to the patient over WhatsApp (stored, then an outbox intent)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.billing.bills import access_bill
from core.billing.money import format_inr
from core.billing.pdfs import receipt_pdf
from core.billing.views import receipt_bill
from core.context import Actor
from core.documents.store import save_document, send_document
from db.models import OutboxMessage


def send_receipt(session: Session, actor: Actor, *, payment_id: int) -> OutboxMessage:
    """Store the receipt PDF with the patient's documents and queue it for WhatsApp.

    Sending the same receipt again returns the first outbox row and stores nothing new.
    """
    view, payment = receipt_bill(session, actor, payment_id=payment_id)
    key = f"receipt:{payment.id}"
    sent = session.scalar(
        select(OutboxMessage).where(
            OutboxMessage.tenant_id == actor.require_tenant(),
            OutboxMessage.dedupe_key == f"document:{key}",
        )
    )
    if sent is not None:
        return sent
    document = save_document(
        session,
        actor,
        patient_id=access_bill(session, actor, view.id).patient_id,
        kind="receipt",
        filename=f"Receipt-{payment.receipt_number}.pdf",
        content=receipt_pdf(session, actor, payment_id=payment_id),
    )
    caption = (
        f"{view.clinic}: receipt {payment.receipt_number} for "
        f"{format_inr(payment.amount_minor)} (bill {view.number}). Thank you."
    )
    return send_document(session, actor, document_id=document.id, caption=caption, dedupe_key=key)
