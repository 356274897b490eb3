"""Payments against a bill: cash, card or UPI, partial or in full, each with its receipt number.

Receipt numbers come from the clinic's ``receipt`` counter (row-locked until commit, so no two
desks share a number and a rolled-back payment leaves no gap). The bill's row lock is taken
first, so the outstanding amount a payment is checked against cannot change under it.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit
from core.auth.permissions import require
from core.billing.bills import lock_bill, settle
from core.billing.money import check_amount, format_inr
from core.context import Actor, load_owned, tenant_of
from core.errors import ValidationFailed
from core.sequences import next_value
from db.models import Payment

MODES = ("cash", "card", "upi")
MAX_REFERENCE = 80


def record_payment(
    session: Session,
    actor: Actor,
    *,
    bill_id: int,
    mode: str,
    amount_minor: int,
    reference: str | None = None,
    idempotency_key: str | None = None,
) -> Payment:
    """Take a payment on the bill; more than the outstanding amount is refused.

    The same ``idempotency_key`` again (a double-clicked button) returns the first payment.
    """
    require(actor, "billing.collect")
    tenant_id = tenant_of(session, actor)
    if mode not in MODES:
        raise ValidationFailed("Payment mode must be cash, card or UPI", field="mode")
    check_amount(amount_minor, field="amount", allow_zero=False)
    reference = (reference or "").strip() or None
    if reference is not None and len(reference) > MAX_REFERENCE:
        raise ValidationFailed("The reference is too long", field="reference")
    bill = lock_bill(session, actor, bill_id)
    if idempotency_key:
        earlier = session.scalar(
            select(Payment).where(
                Payment.tenant_id == tenant_id, Payment.idempotency_key == idempotency_key
            )
        )
        if earlier is not None and earlier.bill_id == bill.id:
            return earlier
    outstanding = bill.total_minor - bill.paid_minor
    if outstanding <= 0:
        raise ValidationFailed(f"Bill {bill.number} is already paid", field="amount")
    if amount_minor > outstanding:
        raise ValidationFailed(
            f"That is more than the outstanding {format_inr(outstanding)}", field="amount"
        )
    now = actor.clock()
    payment = Payment(
        tenant_id=tenant_id,
        bill_id=bill.id,
        receipt_number=f"R-{next_value(session, tenant_id, 'receipt'):06d}",
        mode=mode,
        amount_minor=amount_minor,
        reference=reference,
        idempotency_key=idempotency_key or None,
        received_by=actor.user_id,
        received_at=now,
        created_at=now,
    )
    session.add(payment)
    bill.paid_minor += amount_minor
    settle(session, bill, now=now)
    audit.record(
        session,
        actor,
        "payment.record",
        entity="bill",
        entity_id=bill.id,
        detail={"payment_id": payment.id, "mode": mode, "amount_minor": amount_minor},
    )
    return payment


def access_payment(session: Session, actor: Actor, payment_id: int) -> Payment:
    """Fetch a payment (a receipt) of the actor's clinic, or raise ``NotFound``."""
    require(actor, "billing.read")
    return load_owned(session, actor, Payment, payment_id, "Receipt")
