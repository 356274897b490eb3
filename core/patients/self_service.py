"""The patient's own records page: appointments (cancel, reschedule), tokens, documents, bills.

Every function takes the verified link (``RecordsRef``) and serves only that patient's rows: a
row of another patient, or of another clinic, is ``NotFound``. The actor is ``self_actor``
(role ``self_service``, no user); every view and download is audited. Clinical notes are never
shown; prescriptions appear as their stored PDF documents.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from core import audit
from core.billing.money import format_inr
from core.billing.pdfs import bill_pdf, receipt_pdf
from core.clock import Clock
from core.context import Actor, tenant_of
from core.documents.store import stored_bytes
from core.errors import NotFound
from core.patients.record_links import RecordsRef, check_generation
from core.patients.views import load_patient
from core.scheduling.booking import reschedule_appointment
from core.scheduling.slots import Slot, free_slots_after
from core.scheduling.web_booking import cancel_web_booking
from core.tenancy import tenant_timezone
from db.models import Appointment, Bill, Doctor, Document, Payment, QueueToken, Tenant

SHOWN = 20
CHOICES = 6
CANCEL_REASON = "Cancelled by the patient (self-service page)"


@dataclass(frozen=True)
class Visit:
    id: int
    when: str
    doctor: str
    status: str
    upcoming: bool
    can_change: bool


@dataclass(frozen=True)
class TokenLine:
    code: str
    day: str
    status: str


@dataclass(frozen=True)
class DocumentLine:
    id: int
    kind: str
    filename: str
    when: str


@dataclass(frozen=True)
class Receipt:
    payment_id: int
    number: str
    amount: str


@dataclass(frozen=True)
class BillLine:
    id: int
    number: str
    when: str
    total: str
    due: str
    status: str
    receipts: tuple[Receipt, ...]


@dataclass(frozen=True)
class RecordsPage:
    clinic: str
    first_name: str
    upcoming: tuple[Visit, ...]
    past: tuple[Visit, ...]
    tokens: tuple[TokenLine, ...]
    documents: tuple[DocumentLine, ...]
    bills: tuple[BillLine, ...]


def self_actor(ref: RecordsRef, clock: Clock) -> Actor:
    """The actor a patient's own link acts as (no user; audited as the patient's self-service)."""
    return Actor(None, ref.tenant_id, "self_service", f"patient:{ref.patient_id}", clock=clock)


def patient_records(session: Session, actor: Actor, *, ref: RecordsRef) -> RecordsPage:
    """Return the link's patient's page; ``LinkRevoked`` for a withdrawn link; audited."""
    tenant_id = _check(session, actor, ref)
    patient = load_patient(session, tenant_id, ref.patient_id)
    zone = tenant_timezone(session, tenant_id)
    tenant = session.get(Tenant, tenant_id)
    now = actor.clock()
    visits = _visits(session, ref, zone, now)
    audit.record(
        session, actor, "patient.self_service.view", entity="patient", entity_id=ref.patient_id
    )
    return RecordsPage(
        clinic=tenant.name if tenant else "",
        first_name=patient.full_name.split()[0] if patient.full_name else "",
        upcoming=tuple(reversed([v for v in visits if v.upcoming])),
        past=tuple(v for v in visits if not v.upcoming),
        tokens=_tokens(session, ref),
        documents=_documents(session, ref, zone),
        bills=_bills(session, ref, zone),
    )


def own_document(
    session: Session, actor: Actor, *, ref: RecordsRef, document_id: int
) -> tuple[str, str, bytes]:
    """Return (filename, content type, bytes) of one of the patient's documents; audited."""
    tenant_id = _check(session, actor, ref)
    doc = session.get(Document, document_id)
    if (
        doc is None
        or doc.tenant_id != tenant_id
        or doc.patient_id != ref.patient_id
        or doc.retracted
    ):
        raise NotFound("Document not found")
    content = stored_bytes(session, tenant_id, doc.id)
    if content is None:
        raise NotFound("Document not found")
    audit.record(
        session, actor, "document.self_service.download", entity="document", entity_id=doc.id
    )
    return doc.filename, doc.content_type, content


def own_bill_pdf(session: Session, actor: Actor, *, ref: RecordsRef, bill_id: int) -> bytes:
    """Render one of the patient's bills (audited by the bill read)."""
    tenant_id = _check(session, actor, ref)
    bill = session.get(Bill, bill_id)
    if bill is None or bill.tenant_id != tenant_id or bill.patient_id != ref.patient_id:
        raise NotFound("Bill not found")
    return bill_pdf(session, actor, bill_id=bill.id)


def own_receipt_pdf(session: Session, actor: Actor, *, ref: RecordsRef, payment_id: int) -> bytes:
    """Render the receipt of one of the patient's payments (audited by the bill read)."""
    tenant_id = _check(session, actor, ref)
    row = session.execute(
        select(Payment.id, Bill.patient_id)
        .join(Bill, and_(Bill.tenant_id == Payment.tenant_id, Bill.id == Payment.bill_id))
        .where(Payment.tenant_id == tenant_id, Payment.id == payment_id)
    ).first()
    if row is None or row.patient_id != ref.patient_id:
        raise NotFound("Receipt not found")
    return receipt_pdf(session, actor, payment_id=payment_id)


def cancel_own(session: Session, actor: Actor, *, ref: RecordsRef, appointment_id: int) -> None:
    """Cancel one of the patient's scheduled appointments (the patient is told on WhatsApp)."""
    _own_appointment(session, actor, ref, appointment_id)
    cancel_web_booking(session, actor, appointment_id=appointment_id, reason=CANCEL_REASON)


def reschedule_choices(
    session: Session, actor: Actor, *, ref: RecordsRef, appointment_id: int
) -> list[Slot]:
    """Return the next free slots of the appointment's doctor at its branch."""
    appt = _own_appointment(session, actor, ref, appointment_id)
    return free_slots_after(
        session,
        appt.tenant_id,
        doctor_id=appt.doctor_id,
        after=actor.clock(),
        now=actor.clock(),
        branch_id=appt.branch_id,
        limit=CHOICES,
    )


def reschedule_own(
    session: Session, actor: Actor, *, ref: RecordsRef, appointment_id: int, slot_start: dt.datetime
) -> int:
    """Move one of the patient's appointments to a free slot; return the new appointment id."""
    _own_appointment(session, actor, ref, appointment_id)
    new = reschedule_appointment(
        session, actor, appointment_id=appointment_id, new_slot_start=slot_start
    )
    return new.id


def _check(session: Session, actor: Actor, ref: RecordsRef) -> int:
    tenant_id = tenant_of(session, actor)
    if ref.tenant_id != tenant_id:
        raise NotFound("Patient not found")
    check_generation(session, ref)
    return tenant_id


def _own_appointment(
    session: Session, actor: Actor, ref: RecordsRef, appointment_id: int
) -> Appointment:
    tenant_id = _check(session, actor, ref)
    appt = session.get(Appointment, appointment_id)
    if appt is None or appt.tenant_id != tenant_id or appt.patient_id != ref.patient_id:
        raise NotFound("Appointment not found")
    return appt


def _visits(session: Session, ref: RecordsRef, zone: dt.tzinfo, now: dt.datetime) -> list[Visit]:
    rows = session.execute(
        select(Appointment, Doctor.full_name)
        .join(Doctor, and_(Doctor.tenant_id == ref.tenant_id, Doctor.id == Appointment.doctor_id))
        .where(Appointment.tenant_id == ref.tenant_id, Appointment.patient_id == ref.patient_id)
        .order_by(Appointment.slot_start.desc(), Appointment.id.desc())
        .limit(SHOWN)
    )
    return [
        Visit(
            id=appt.id,
            when=f"{appt.slot_start.astimezone(zone):%a %d %b %Y, %H:%M}",
            doctor=doctor,
            status=appt.status.replace("_", " "),
            upcoming=appt.slot_start >= now and appt.status != "cancelled",
            can_change=appt.slot_start >= now and appt.status == "scheduled",
        )
        for appt, doctor in rows
    ]


def _tokens(session: Session, ref: RecordsRef) -> tuple[TokenLine, ...]:
    rows = session.scalars(
        select(QueueToken)
        .where(QueueToken.tenant_id == ref.tenant_id, QueueToken.patient_id == ref.patient_id)
        .order_by(QueueToken.service_date.desc(), QueueToken.id.desc())
        .limit(SHOWN)
    )
    return tuple(
        TokenLine(t.code, f"{t.service_date:%d %b %Y}", t.status.replace("_", " ")) for t in rows
    )


def _documents(session: Session, ref: RecordsRef, zone: dt.tzinfo) -> tuple[DocumentLine, ...]:
    rows = session.scalars(
        select(Document)
        .where(
            Document.tenant_id == ref.tenant_id,
            Document.patient_id == ref.patient_id,
            Document.retracted.is_(False),
        )
        .order_by(Document.id.desc())
        .limit(SHOWN)
    )
    return tuple(
        DocumentLine(d.id, d.kind, d.filename, f"{d.created_at.astimezone(zone):%d %b %Y}")
        for d in rows
    )


def _bills(session: Session, ref: RecordsRef, zone: dt.tzinfo) -> tuple[BillLine, ...]:
    bills = session.scalars(
        select(Bill)
        .where(Bill.tenant_id == ref.tenant_id, Bill.patient_id == ref.patient_id)
        .order_by(Bill.id.desc())
        .limit(SHOWN)
    ).all()
    payments: dict[int, list[Receipt]] = {}
    for p in session.scalars(
        select(Payment)
        .where(Payment.tenant_id == ref.tenant_id, Payment.bill_id.in_([b.id for b in bills]))
        .order_by(Payment.id)
    ):
        receipt = Receipt(p.id, p.receipt_number, format_inr(p.amount_minor))
        payments.setdefault(p.bill_id, []).append(receipt)
    return tuple(
        BillLine(
            id=b.id,
            number=b.number,
            when=f"{(b.issued_at or b.created_at).astimezone(zone):%d %b %Y}",
            total=format_inr(b.total_minor),
            due=format_inr(max(0, b.total_minor - b.paid_minor)),
            status=b.status.replace("_", " "),
            receipts=tuple(payments.get(b.id, ())),
        )
        for b in bills
    )
