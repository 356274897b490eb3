"""A bill per visit: opened from a token with the doctor's fee, items, discounts, tax per item.

Every change to a bill locks its row (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite has one
writer) and recomputes the totals from the items, so two desks editing one bill cannot lose
an item or a payment between them.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core import audit
from core.auth.permissions import require
from core.billing.catalogue import access_catalogue_item
from core.billing.followups import grant_free_followup
from core.billing.money import check_amount, tax_on
from core.context import Actor, load_owned, tenant_of
from core.errors import Conflict, NotFound, ValidationFailed
from core.queue.lifecycle import access_token
from core.sequences import next_value
from db.models import Bill, BillItem, Doctor, QueueToken

CONSULTATION = "consultation"
MAX_QUANTITY = 999


def access_bill(session: Session, actor: Actor, bill_id: int) -> Bill:
    """Fetch a bill of the actor's clinic for reading, or raise ``NotFound``."""
    require(actor, "billing.read")
    return load_owned(session, actor, Bill, bill_id, "Bill")


def open_bill(session: Session, actor: Actor, *, token_id: int) -> Bill:
    """Return the visit's bill, creating it with the doctor's consultation fee.

    The fee line is GST-exempt; a free follow-up (the doctor's setting) discounts it in full.
    The bill number comes from the clinic's counter, whose row lock is held until commit: a
    rolled-back opening leaves no gap, and a second desk opening the same visit gets this bill.
    """
    require(actor, "billing.write")
    tenant_id = tenant_of(session, actor)
    token = access_token(session, actor, token_id)
    existing = _bill_of_token(session, tenant_id, token.id)
    if existing is not None:
        return existing
    if token.status == "cancelled":
        raise Conflict(f"Token {token.code} was cancelled: there is no visit to bill")
    try:
        with session.begin_nested():
            bill = _create(session, actor, tenant_id, token)
    except IntegrityError:
        # Another desk opened this visit's bill first (UNIQUE tenant_id, token_id).
        existing = _bill_of_token(session, tenant_id, token.id)
        if existing is None:
            raise
        return existing
    audit.record(session, actor, "bill.open", entity="bill", entity_id=bill.id)
    return bill


def add_item(
    session: Session, actor: Actor, *, bill_id: int, catalogue_item_id: int, quantity: int = 1
) -> BillItem:
    """Add a catalogue procedure, test or medicine to the bill, taxed at the item's rate."""
    require(actor, "billing.write")
    bill = _lock(session, actor, bill_id)
    item = access_catalogue_item(session, actor, catalogue_item_id)
    if not item.active:
        raise ValidationFailed(f"{item.name} is no longer in the catalogue", field="item")
    if not 1 <= quantity <= MAX_QUANTITY:
        raise ValidationFailed(f"Quantity must be 1 to {MAX_QUANTITY}", field="quantity")
    line = BillItem(
        tenant_id=bill.tenant_id,
        bill_id=bill.id,
        kind=item.kind,
        description=item.name,
        quantity=quantity,
        unit_price_minor=item.unit_price_minor,
        discount_minor=0,
        tax_rate_bp=0 if item.gst_exempt else item.tax_rate_bp,
        catalogue_item_id=item.id,
        gst_exempt=item.gst_exempt,
    )
    _price(line)
    session.add(line)
    _settle(session, bill, actor.clock())
    audit.record(
        session,
        actor,
        "bill.item_add",
        entity="bill",
        entity_id=bill.id,
        detail={"catalogue_item_id": item.id, "quantity": quantity},
    )
    return line


def remove_item(session: Session, actor: Actor, *, bill_id: int, item_id: int) -> None:
    """Remove a line; refused if the bill would then total less than was already paid."""
    require(actor, "billing.write")
    bill = _lock(session, actor, bill_id)
    session.delete(_line(session, bill, item_id))
    _settle(session, bill, actor.clock())
    audit.record(
        session,
        actor,
        "bill.item_remove",
        entity="bill",
        entity_id=bill.id,
        detail={"item_id": item_id},
    )


def set_item_discount(
    session: Session, actor: Actor, *, bill_id: int, item_id: int, discount_minor: int
) -> BillItem:
    """Discount one line by an amount in paise (0 removes it); tax is charged after discount."""
    require(actor, "billing.write")
    bill = _lock(session, actor, bill_id)
    line = _line(session, bill, item_id)
    check_amount(discount_minor, field="discount")
    if discount_minor > line.quantity * line.unit_price_minor:
        raise ValidationFailed("The discount is more than the line's price", field="discount")
    line.discount_minor = discount_minor
    _price(line)
    _settle(session, bill, actor.clock())
    audit.record(
        session,
        actor,
        "bill.discount",
        entity="bill",
        entity_id=bill.id,
        detail={"item_id": item_id, "discount_minor": discount_minor},
    )
    return line


def lock_bill(session: Session, actor: Actor, bill_id: int) -> Bill:
    """Load a bill of the actor's clinic holding its row lock until commit (for payments)."""
    return _lock(session, actor, bill_id)


def settle(session: Session, bill: Bill, *, now: dt.datetime) -> None:
    """Recompute the bill's totals and status from its lines and what was paid.

    The caller holds the bill's lock. Refuses (``Conflict``) a total below the amount paid.
    """
    _settle(session, bill, now)


def _create(session: Session, actor: Actor, tenant_id: int, token: QueueToken) -> Bill:
    number = next_value(session, tenant_id, "bill")
    bill = Bill(
        tenant_id=tenant_id,
        number=f"B-{number:06d}",
        branch_id=token.branch_id,
        patient_id=token.patient_id,
        doctor_id=token.doctor_id,
        appointment_id=token.appointment_id,
        token_id=token.id,
        status="pending",
        subtotal_minor=0,
        discount_minor=0,
        tax_minor=0,
        total_minor=0,
        paid_minor=0,
        issued_by=actor.user_id,
        issued_at=actor.clock(),
    )
    session.add(bill)
    session.flush()
    doctor = session.get(Doctor, token.doctor_id) if token.doctor_id else None
    if doctor is not None and doctor.fee_minor > 0:
        line = _consultation_line(bill, doctor)
        if grant_free_followup(session, actor, bill=bill, doctor=doctor):
            line.description += " (free follow-up)"
            line.discount_minor = line.unit_price_minor
        _price(line)
        session.add(line)
    _settle(session, bill, actor.clock())
    return bill


def _consultation_line(bill: Bill, doctor: Doctor) -> BillItem:
    return BillItem(
        tenant_id=bill.tenant_id,
        bill_id=bill.id,
        kind=CONSULTATION,
        description=f"Consultation, {doctor.full_name}",
        quantity=1,
        unit_price_minor=doctor.fee_minor,
        discount_minor=0,
        tax_rate_bp=0,
        gst_exempt=True,  # health care services by a clinician are exempt from GST in India
    )


def _price(line: BillItem) -> None:
    net = line.quantity * line.unit_price_minor - line.discount_minor
    line.tax_minor = tax_on(net, line.tax_rate_bp)
    line.amount_minor = net + line.tax_minor


def _settle(session: Session, bill: Bill, now: dt.datetime) -> None:
    session.flush()
    lines = list(
        session.scalars(
            select(BillItem).where(
                BillItem.tenant_id == bill.tenant_id, BillItem.bill_id == bill.id
            )
        )
    )
    subtotal = sum(line.quantity * line.unit_price_minor for line in lines)
    discount = sum(line.discount_minor for line in lines)
    tax = sum(line.tax_minor for line in lines)
    total = subtotal - discount + tax
    if total < bill.paid_minor:
        raise Conflict("The bill would total less than what was already paid")
    bill.subtotal_minor, bill.discount_minor, bill.tax_minor = subtotal, discount, tax
    bill.total_minor = total
    bill.status = bill_status(total, bill.paid_minor, has_lines=bool(lines))
    if bill.status != "paid":
        bill.paid_at = None
    elif bill.paid_at is None:
        bill.paid_at = now
    session.flush()


def bill_status(total: int, paid: int, *, has_lines: bool) -> str:
    """Return pending, partially_paid or paid; a bill of free lines only is paid."""
    if paid >= total and (total > 0 or has_lines):
        return "paid"
    return "pending" if paid == 0 else "partially_paid"


def _lock(session: Session, actor: Actor, bill_id: int) -> Bill:
    tenant_id = tenant_of(session, actor)
    bill = session.scalar(
        select(Bill)
        .where(Bill.tenant_id == tenant_id, Bill.id == bill_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if bill is None:
        raise NotFound("Bill not found")
    if bill.status == "void":
        raise Conflict(f"Bill {bill.number} was voided")
    return bill


def _line(session: Session, bill: Bill, item_id: int) -> BillItem:
    line = session.get(BillItem, item_id)
    if line is None or line.tenant_id != bill.tenant_id or line.bill_id != bill.id:
        raise NotFound("Bill line not found")
    return line


def _bill_of_token(session: Session, tenant_id: int, token_id: int) -> Bill | None:
    return session.scalar(
        select(Bill).where(Bill.tenant_id == tenant_id, Bill.token_id == token_id)
    )
