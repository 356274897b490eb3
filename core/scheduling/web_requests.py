"""Booking requests from the web (branches in ``request`` mode) and the desk's answer.

A patient with a verified phone (``core.scheduling.web_booking.consume_ticket``) proposes a day
and a time window (``request_booking``); staff see the branch's pending requests on the desk
(``list_booking_requests``) and either book one of the doctor's slots for it
(``confirm_booking_request``: the patient is found or registered by phone, booked through
``book_appointment`` with source ``web``, and the usual ``whatsapp.booking_confirmed`` intent
tells them, in the request's language when the patient is new) or propose another time with a
doctor (``propose_booking_request``: a ``whatsapp.booking_request_proposed`` intent in the
request's language, whose buttons the patient answers in the chat,
``core.scheduling.proposals``: ``accepted`` or ``declined``). Both are audited and
compare-and-set on the request's ``pending`` status, so two receptionists cannot answer one
request twice.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from core import audit
from core.auth.permissions import require
from core.context import Actor, load_owned, tenant_of
from core.errors import Conflict, NotFound, ValidationFailed
from core.patients.phones import PhoneVault, mask_phone
from core.queue.events import enqueue_intents
from core.scheduling.booking import book_appointment
from core.scheduling.doctors import access_doctor
from core.scheduling.slots import check_aware
from core.scheduling.web_booking import (
    DAYS_AHEAD,
    booking_mode,
    consume_ticket,
    find_or_register,
    public_branch,
    web_actor,
)
from core.tenancy import access_branch, tenant_timezone
from db.models import Appointment, Department, Doctor
from db.models.scheduling import BookingRequest

WINDOWS = ("morning", "afternoon", "evening", "any")
WINDOW_HOURS = {"morning": "09:00-12:00", "afternoon": "12:00-16:00", "evening": "16:00-20:00"}
REQUEST_PROPOSED = "whatsapp.booking_request_proposed"  # outbox intent, payload {request_id}
STATUSES = ("pending", "confirmed", "proposed", "accepted", "declined")
REQUEST_LANGUAGES = ("en", "hi")  # the booking page's languages


@dataclass(frozen=True)
class RequestRow:
    id: int
    branch_id: int
    department_id: int | None
    department: str | None
    doctor_id: int | None
    doctor: str | None
    preferred_date: dt.date
    window: str
    patient_name: str
    age_years: int | None
    phone: str | None  # masked
    status: str
    created_at: dt.datetime
    appointment_id: int | None
    proposed_start: dt.datetime | None


def request_booking(
    session: Session,
    tenant_id: int,
    *,
    ticket: str,
    phone: str,
    full_name: str,
    age_years: int | None,
    branch_id: int,
    preferred_date: dt.date,
    window: str,
    vault: PhoneVault,
    now: dt.datetime,
    department_id: int | None = None,
    doctor_id: int | None = None,
    language: str = "en",
) -> BookingRequest:
    """Store a verified patient's request for a day and time window at a ``request`` branch.

    ``language``: the booking page's (``en`` or ``hi``; anything else is stored as ``en``); the
    desk's answer goes out in it.
    """
    branch = public_branch(session, tenant_id, branch_id)
    if booking_mode(session, tenant_id, branch_id) != "request":
        raise ValidationFailed("This branch books live slots; pick a slot instead", field="mode")
    if window not in WINDOWS:
        raise ValidationFailed(f"Window must be one of {', '.join(WINDOWS)}", field="window")
    today = now.astimezone(tenant_timezone(session, tenant_id, branch)).date()
    if not today <= preferred_date <= today + dt.timedelta(days=DAYS_AHEAD):
        raise ValidationFailed(f"Pick a date from today to {DAYS_AHEAD} days ahead", field="date")
    name = " ".join((full_name or "").split())
    if not 2 <= len(name) <= 200:
        raise ValidationFailed("Enter the patient's full name", field="name")
    if age_years is not None and not 0 <= age_years <= 120:
        raise ValidationFailed("Age must be between 0 and 120", field="age")
    if department_id is not None:
        dept = session.get(Department, department_id)
        if dept is None or dept.tenant_id != tenant_id or dept.branch_id != branch_id:
            raise NotFound("Specialty not found")
    if doctor_id is not None:
        doctor = session.get(Doctor, doctor_id)
        if doctor is None or doctor.tenant_id != tenant_id:
            raise NotFound("Doctor not found")
        department_id = department_id or doctor.department_id
    e164 = consume_ticket(session, tenant_id, ticket=ticket, phone=phone, vault=vault, now=now)
    sealed = vault.seal(e164)
    row = BookingRequest(
        tenant_id=tenant_id,
        branch_id=branch_id,
        department_id=department_id,
        doctor_id=doctor_id,
        preferred_date=preferred_date,
        preferred_window=window,
        patient_name=name,
        age_years=age_years,
        phone_cipher=sealed.cipher,
        phone_hash=sealed.lookup_hash,
        status="pending",
        created_at=now,
        language=language if language in REQUEST_LANGUAGES else "en",
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        web_actor(tenant_id),
        "booking_request.create",
        entity="booking_request",
        entity_id=row.id,
        detail={"branch_id": branch_id},
    )
    return row


def list_booking_requests(
    session: Session,
    actor: Actor,
    *,
    vault: PhoneVault,
    branch_id: int | None = None,
    status: str = "pending",
) -> list[RequestRow]:
    """The clinic's booking requests of ``status`` (oldest first), phones masked."""
    require(actor, "appointment.read")
    tenant_id = tenant_of(session, actor)
    if status not in STATUSES:
        raise ValidationFailed(f"Status must be one of {', '.join(STATUSES)}", field="status")
    query = (
        select(BookingRequest, Department.name, Doctor.full_name)
        .outerjoin(
            Department,
            (Department.tenant_id == BookingRequest.tenant_id)
            & (Department.id == BookingRequest.department_id),
        )
        .outerjoin(
            Doctor,
            (Doctor.tenant_id == BookingRequest.tenant_id)
            & (Doctor.id == BookingRequest.doctor_id),
        )
        .where(BookingRequest.tenant_id == tenant_id, BookingRequest.status == status)
        .order_by(BookingRequest.created_at, BookingRequest.id)
    )
    if branch_id is not None:
        access_branch(session, actor, branch_id)
        query = query.where(BookingRequest.branch_id == branch_id)
    return [_row(r, dept, doc, vault) for r, dept, doc in session.execute(query).all()]


def access_booking_request(session: Session, actor: Actor, request_id: int) -> BookingRequest:
    """Fetch a booking request of the actor's clinic, or raise ``NotFound``."""
    return load_owned(session, actor, BookingRequest, request_id, "Booking request")


def confirm_booking_request(
    session: Session,
    actor: Actor,
    *,
    request_id: int,
    doctor_id: int,
    slot_start: dt.datetime,
    vault: PhoneVault,
) -> Appointment:
    """Book a slot for a pending request; the patient gets the booking confirmation."""
    require(actor, "appointment.book")
    check_aware(slot_start, "slot_start")
    request = access_booking_request(session, actor, request_id)
    if request.status != "pending":
        raise Conflict("This request was already answered")
    if request.phone_cipher is None:
        raise ValidationFailed("The request has no phone", field="phone")
    patient = find_or_register(
        session,
        actor,
        vault=vault,
        phone=vault.decrypt(request.phone_cipher),
        full_name=request.patient_name,
        age_years=request.age_years,
        language=request.language or "en",
    )
    appt = book_appointment(
        session,
        actor,
        doctor_id=doctor_id,
        patient_id=patient.id,
        slot_start=slot_start,
        branch_id=request.branch_id,
        source="web",
        idempotency_key=f"web-request:{request.id}",
    )
    _answer(session, actor, request, "confirmed", appointment_id=appt.id, patient_id=patient.id)
    audit.record(
        session,
        actor,
        "booking_request.confirm",
        entity="booking_request",
        entity_id=request.id,
        detail={"appointment_id": appt.id},
    )
    return appt


def propose_booking_request(
    session: Session,
    actor: Actor,
    *,
    request_id: int,
    proposed_start: dt.datetime,
    note: str | None = None,
    doctor_id: int | None = None,
) -> BookingRequest:
    """Answer a pending request with another time (with ``doctor_id``, or the request's doctor);
    the patient is told over WhatsApp and can accept it there."""
    require(actor, "appointment.book")
    check_aware(proposed_start, "proposed_start")
    request = access_booking_request(session, actor, request_id)
    doctor_id = access_doctor(session, actor, doctor_id).id if doctor_id else request.doctor_id
    now = actor.clock()
    if proposed_start <= now:
        raise ValidationFailed("Propose a time in the future", field="proposed_start")
    note = (note or "").strip() or None
    if note is not None and len(note) > 200:
        raise ValidationFailed("Keep the note under 200 characters", field="note")
    if request.status != "pending":
        raise Conflict("This request was already answered")
    _answer(
        session,
        actor,
        request,
        "proposed",
        proposed_start=proposed_start,
        staff_note=note,
        doctor_id=doctor_id,
    )
    enqueue_intents(
        session,
        tenant_id=request.tenant_id,
        rows=[
            {
                "kind": REQUEST_PROPOSED,
                "payload": {"request_id": request.id},
                "dedupe_key": f"request-proposed:{request.id}",
            }
        ],
        at=now,
    )
    audit.record(
        session, actor, "booking_request.propose", entity="booking_request", entity_id=request.id
    )
    return request


def _answer(
    session: Session, actor: Actor, request: BookingRequest, status: str, **values: Any
) -> None:
    now = actor.clock()
    result = session.execute(
        update(BookingRequest)
        .where(
            BookingRequest.tenant_id == request.tenant_id,
            BookingRequest.id == request.id,
            BookingRequest.status == "pending",
        )
        .values(status=status, handled_by=actor.user_id, handled_at=now, **values)
        .execution_options(synchronize_session=False)
    )
    if cast("CursorResult[Any]", result).rowcount != 1:
        raise Conflict("This request was already answered")
    session.refresh(request)


def _row(r: BookingRequest, dept: str | None, doctor: str | None, vault: PhoneVault) -> RequestRow:
    phone = mask_phone(vault.decrypt(r.phone_cipher)) if r.phone_cipher else None
    window = r.preferred_window or "any"
    return RequestRow(
        r.id,
        r.branch_id,
        r.department_id,
        dept,
        r.doctor_id,
        doctor,
        r.preferred_date,
        f"{window} ({WINDOW_HOURS[window]})" if window in WINDOW_HOURS else window,
        r.patient_name,
        r.age_years,
        phone,
        r.status,
        r.created_at,
        r.appointment_id,
        r.proposed_start,
    )
