"""What the desk reads: a bill with its lines and receipts, today's visits, the day's takings."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import audit
from core.auth.permissions import require
from core.billing.bills import access_bill
from core.billing.payments import MODES, access_payment
from core.context import Actor, tenant_of
from core.tenancy import access_branch, tenant_timezone
from db.models import Bill, BillItem, Branch, Doctor, Patient, Payment, QueueToken, Tenant
from db.models.billing import FreeFollowUp


@dataclass(frozen=True)
class LineView:
    id: int
    kind: str
    description: str
    quantity: int
    unit_price_minor: int
    discount_minor: int
    tax_rate_bp: int
    tax_minor: int
    amount_minor: int
    gst_exempt: bool


@dataclass(frozen=True)
class PaymentView:
    id: int
    receipt_number: str
    mode: str
    amount_minor: int
    reference: str | None
    received_at: dt.datetime


@dataclass(frozen=True)
class BillView:
    """A bill as the desk and its PDFs show it; ``outstanding`` is what is still due."""

    id: int
    number: str
    status: str
    clinic: str
    branch: str
    address: str | None
    patient_name: str
    patient_code: str
    doctor_name: str | None
    token_code: str | None
    issued_at: dt.datetime
    timezone: str
    subtotal_minor: int
    discount_minor: int
    tax_minor: int
    total_minor: int
    paid_minor: int
    free_followup: bool
    lines: list[LineView] = field(default_factory=list)
    payments: list[PaymentView] = field(default_factory=list)

    @property
    def outstanding_minor(self) -> int:
        return self.total_minor - self.paid_minor


@dataclass(frozen=True)
class VisitRow:
    """A token of today with its bill, if one was opened."""

    token_id: int
    token_code: str
    patient_name: str
    doctor_name: str | None
    token_status: str
    bill_id: int | None
    bill_number: str | None
    bill_status: str | None
    outstanding_minor: int | None


@dataclass(frozen=True)
class Collection:
    """Payments received on one local day: the total, by mode and by the bill's doctor."""

    day: dt.date
    total_minor: int
    by_mode: dict[str, int]
    by_doctor: list[tuple[str, int]]
    payments: int


def bill_view(session: Session, actor: Actor, *, bill_id: int) -> BillView:
    """Read a bill of the actor's clinic with its lines and payments; audited."""
    bill = access_bill(session, actor, bill_id)
    clinic, branch, address, zone = session.execute(
        select(Tenant.name, Branch.name, Branch.address, Branch.timezone)
        .join(Branch, Branch.tenant_id == Tenant.id)
        .where(Tenant.id == bill.tenant_id, Branch.id == bill.branch_id)
    ).one()
    patient = session.get(Patient, bill.patient_id)
    doctor = session.get(Doctor, bill.doctor_id) if bill.doctor_id else None
    token = session.get(QueueToken, bill.token_id) if bill.token_id else None
    audit.record(session, actor, "bill.read", entity="bill", entity_id=bill.id)
    return BillView(
        id=bill.id,
        number=bill.number,
        status=bill.status,
        clinic=clinic,
        branch=branch,
        address=address,
        patient_name=patient.full_name if patient and not patient.erased_at else "",
        patient_code=patient.code if patient else "",
        doctor_name=doctor.full_name if doctor else None,
        token_code=token.code if token else None,
        issued_at=bill.issued_at or bill.created_at,
        timezone=zone or tenant_timezone(session, bill.tenant_id).key,
        subtotal_minor=bill.subtotal_minor,
        discount_minor=bill.discount_minor,
        tax_minor=bill.tax_minor,
        total_minor=bill.total_minor,
        paid_minor=bill.paid_minor,
        free_followup=_was_free(session, bill),
        lines=_lines(session, bill),
        payments=_payments(session, bill),
    )


def receipt_bill(
    session: Session, actor: Actor, *, payment_id: int
) -> tuple[BillView, PaymentView]:
    """Read one receipt (a payment) with its bill, for the receipt PDF."""
    payment = access_payment(session, actor, payment_id)
    view = bill_view(session, actor, bill_id=payment.bill_id)
    return view, next(p for p in view.payments if p.id == payment.id)


def todays_visits(
    session: Session, actor: Actor, *, branch_id: int, day: dt.date | None = None
) -> list[VisitRow]:
    """List the branch's tokens of the day (cancelled ones left out) with their bills."""
    require(actor, "billing.read")
    branch = access_branch(session, actor, branch_id)
    zone = tenant_timezone(session, branch.tenant_id, branch)
    day = day or actor.clock().astimezone(zone).date()
    rows = session.execute(
        select(QueueToken, Patient.full_name, Doctor.full_name, Bill)
        .join(
            Patient,
            (Patient.tenant_id == QueueToken.tenant_id) & (Patient.id == QueueToken.patient_id),
        )
        .outerjoin(
            Doctor, (Doctor.tenant_id == QueueToken.tenant_id) & (Doctor.id == QueueToken.doctor_id)
        )
        .outerjoin(
            Bill, (Bill.tenant_id == QueueToken.tenant_id) & (Bill.token_id == QueueToken.id)
        )
        .where(
            QueueToken.tenant_id == branch.tenant_id,
            QueueToken.branch_id == branch.id,
            QueueToken.service_date == day,
            QueueToken.status != "cancelled",
        )
        .order_by(QueueToken.issued_at, QueueToken.id)
    ).all()
    return [
        VisitRow(
            token_id=token.id,
            token_code=token.code,
            patient_name=patient,
            doctor_name=doctor,
            token_status=token.status,
            bill_id=bill.id if bill else None,
            bill_number=bill.number if bill else None,
            bill_status=bill.status if bill else None,
            outstanding_minor=bill.total_minor - bill.paid_minor if bill else None,
        )
        for token, patient, doctor, bill in rows
    ]


def daily_collection(
    session: Session, actor: Actor, *, day: dt.date | None = None, branch_id: int | None = None
) -> Collection:
    """Sum the payments received on a local day, split by mode and by the bill's doctor."""
    require(actor, "billing.read")
    tenant_id = tenant_of(session, actor)
    branch = access_branch(session, actor, branch_id) if branch_id is not None else None
    zone = tenant_timezone(session, tenant_id, branch)
    day = day or actor.clock().astimezone(zone).date()
    start = dt.datetime.combine(day, dt.time(), zone).astimezone(dt.UTC)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), zone).astimezone(dt.UTC)
    where = [
        Payment.tenant_id == tenant_id,
        Payment.received_at >= start,
        Payment.received_at < end,
    ]
    if branch is not None:
        where.append(Bill.branch_id == branch.id)
    joined = select(Payment).join(
        Bill, (Bill.tenant_id == Payment.tenant_id) & (Bill.id == Payment.bill_id)
    )
    by_mode = dict.fromkeys(MODES, 0)
    count = 0
    for mode, total, n in session.execute(
        joined.with_only_columns(Payment.mode, func.sum(Payment.amount_minor), func.count())
        .where(*where)
        .group_by(Payment.mode)
    ):
        by_mode[mode] = int(total)
        count += int(n)
    doctors = session.execute(
        joined.with_only_columns(Doctor.full_name, func.sum(Payment.amount_minor))
        .outerjoin(Doctor, (Doctor.tenant_id == Bill.tenant_id) & (Doctor.id == Bill.doctor_id))
        .where(*where)
        .group_by(Doctor.full_name)
        .order_by(func.sum(Payment.amount_minor).desc())
    ).all()
    return Collection(
        day=day,
        total_minor=sum(by_mode.values()),
        by_mode=by_mode,
        by_doctor=[(name or "No doctor", int(total)) for name, total in doctors],
        payments=count,
    )


def _lines(session: Session, bill: Bill) -> list[LineView]:
    rows = session.scalars(
        select(BillItem)
        .where(BillItem.tenant_id == bill.tenant_id, BillItem.bill_id == bill.id)
        .order_by(BillItem.id)
    )
    return [
        LineView(
            r.id,
            r.kind,
            r.description,
            r.quantity,
            r.unit_price_minor,
            r.discount_minor,
            r.tax_rate_bp,
            r.tax_minor,
            r.amount_minor,
            r.gst_exempt,
        )
        for r in rows
    ]


def _payments(session: Session, bill: Bill) -> list[PaymentView]:
    rows = session.scalars(
        select(Payment)
        .where(Payment.tenant_id == bill.tenant_id, Payment.bill_id == bill.id)
        .order_by(Payment.received_at, Payment.id)
    )
    return [
        PaymentView(p.id, p.receipt_number, p.mode, p.amount_minor, p.reference, p.received_at)
        for p in rows
    ]


def _was_free(session: Session, bill: Bill) -> bool:
    found = session.scalar(
        select(FreeFollowUp.id).where(
            FreeFollowUp.tenant_id == bill.tenant_id, FreeFollowUp.bill_id == bill.id
        )
    )
    return found is not None
