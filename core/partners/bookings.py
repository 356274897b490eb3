"""Partner bookings: availability, book with an ``Idempotency-Key``, read, cancel, reschedule.

A partner sees only the appointments its own client made (rows in ``api_requests``); any other
appointment id, of its clinic or another, is ``NotFound``. Booking goes through the desk's
``book_appointment`` (source ``web``), so the seat constraint decides races the same way. The
patient is the clinic's patient with that phone and name, or a new registration.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.auth.permissions import require
from core.context import Actor, load_owned, tenant_of
from core.errors import Conflict, NotFound
from core.patients.phones import PhoneVault, normalise_phone
from core.patients.registry import register_patient
from core.patients.validation import name_key
from core.patients.views import by_phone_hash
from core.scheduling.booking import book_appointment, reschedule_appointment
from core.scheduling.doctors import access_doctor
from core.scheduling.slots import Slot
from core.scheduling.web_booking import (
    Directory,
    cancel_web_booking,
    public_directory,
    public_slots,
)
from db.models import ApiClient, ApiRequest, Appointment, Doctor

RESCHEDULED = "~rescheduled:"  # api_requests key prefix of a reschedule's new appointment


@dataclass(frozen=True)
class PatientDetails:
    """Who the booking is for, as the partner's form collected it."""

    full_name: str
    phone: str
    age_years: int | None = None


@dataclass(frozen=True)
class BookingView:
    """A partner's booking as the API shows it (no patient data)."""

    appointment_id: int
    status: str
    doctor_id: int
    doctor_name: str
    branch_id: int
    slot_start: dt.datetime
    slot_end: dt.datetime
    created_at: dt.datetime
    cancel_reason: str | None


@dataclass(frozen=True)
class BookingAsk:
    """One booking request of a partner client."""

    client_id: int
    idempotency_key: str
    body_sha256: str
    doctor_id: int
    slot_start: dt.datetime
    patient: PatientDetails
    branch_id: int | None = None
    visit_type: str = "new"


def partner_directory(session: Session, actor: Actor) -> Directory:
    """Return the clinic's branches (with their booking mode), specialties and doctors."""
    require(actor, "schedule.read")
    return public_directory(session, tenant_of(session, actor))


def partner_availability(
    session: Session, actor: Actor, *, doctor_id: int, on_date: dt.date, branch_id: int
) -> list[Slot]:
    """Return a doctor's free slots at a live branch on a local date (calendar feeds applied).

    ``NotFound`` for another clinic's doctor or branch; ``ValidationFailed`` for a branch in
    request mode or a date outside the bookable range.
    """
    require(actor, "schedule.read")
    tenant_id = tenant_of(session, actor)
    return public_slots(
        session,
        tenant_id,
        doctor_id=doctor_id,
        branch_id=branch_id,
        on_date=on_date,
        now=actor.clock(),
    )


def book_for_partner(
    session: Session, actor: Actor, *, ask: BookingAsk, vault: PhoneVault
) -> tuple[BookingView, bool]:
    """Book for a partner, or replay the booking its key made; True when replayed.

    The same key with a different body is ``Conflict``; a lost race is ``SlotTaken``.
    """
    require(actor, "appointment.book")
    tenant_id = tenant_of(session, actor)
    load_owned(session, actor, ApiClient, ask.client_id, "API client")
    access_doctor(session, actor, ask.doctor_id)  # before a patient is registered
    earlier = _request(session, tenant_id, ask.client_id, ask.idempotency_key)
    if earlier is not None:
        return _replay(session, tenant_id, earlier, ask.body_sha256), True
    patient_id = _patient_for(session, actor, vault, ask.patient)
    appt = book_appointment(
        session,
        actor,
        doctor_id=ask.doctor_id,
        patient_id=patient_id,
        slot_start=ask.slot_start,
        branch_id=ask.branch_id,
        visit_type=ask.visit_type,
        source="web",
        idempotency_key=f"api:{ask.client_id}:{ask.idempotency_key}",
    )
    try:
        with session.begin_nested():
            _remember(session, tenant_id, ask.client_id, ask.idempotency_key, ask.body_sha256, appt)
    except IntegrityError:  # a concurrent retry with this key committed first
        earlier = _request(session, tenant_id, ask.client_id, ask.idempotency_key)
        if earlier is None:
            raise
        return _replay(session, tenant_id, earlier, ask.body_sha256), True
    return _view(session, appt), False


def partner_booking(
    session: Session, actor: Actor, *, client_id: int, appointment_id: int
) -> BookingView:
    """Return one of the client's bookings; ``NotFound`` for any other appointment."""
    require(actor, "appointment.read")
    return _view(session, _owned(session, actor, client_id, appointment_id))


def partner_bookings(
    session: Session, actor: Actor, *, client_id: int, limit: int = 100
) -> list[BookingView]:
    """Return the bookings a partner client made, newest first (none for another clinic's)."""
    require(actor, "appointment.read")
    rows = session.scalars(
        select(Appointment)
        .join(
            ApiRequest,
            (ApiRequest.tenant_id == Appointment.tenant_id)
            & (ApiRequest.appointment_id == Appointment.id),
        )
        .where(
            Appointment.tenant_id == tenant_of(session, actor), ApiRequest.client_id == client_id
        )
        .order_by(Appointment.id.desc())
        .limit(limit)
    )
    return [_view(session, appt) for appt in rows]


def cancel_partner_booking(
    session: Session, actor: Actor, *, client_id: int, appointment_id: int, reason: str
) -> BookingView:
    """Cancel one of the client's bookings; ``Conflict`` if it is no longer scheduled."""
    _owned(session, actor, client_id, appointment_id)
    appt = cancel_web_booking(session, actor, appointment_id=appointment_id, reason=reason)
    return _view(session, appt)


def reschedule_partner_booking(
    session: Session,
    actor: Actor,
    *,
    client_id: int,
    appointment_id: int,
    new_slot_start: dt.datetime,
) -> BookingView:
    """Move one of the client's bookings to another slot; the new booking is the client's too."""
    _owned(session, actor, client_id, appointment_id)
    new = reschedule_appointment(
        session, actor, appointment_id=appointment_id, new_slot_start=new_slot_start
    )
    key = f"{RESCHEDULED}{new.id}"
    _remember(session, new.tenant_id, client_id, key, "", new)
    return _view(session, new)


def _owned(session: Session, actor: Actor, client_id: int, appointment_id: int) -> Appointment:
    tenant_id = tenant_of(session, actor)
    row = session.scalar(
        select(Appointment)
        .join(
            ApiRequest,
            (ApiRequest.tenant_id == Appointment.tenant_id)
            & (ApiRequest.appointment_id == Appointment.id),
        )
        .where(
            Appointment.tenant_id == tenant_id,
            Appointment.id == appointment_id,
            ApiRequest.client_id == client_id,
        )
    )
    if row is None:
        raise NotFound("Booking not found")
    return row


def _request(session: Session, tenant_id: int, client_id: int, key: str) -> ApiRequest | None:
    return session.scalar(
        select(ApiRequest).where(
            ApiRequest.tenant_id == tenant_id,
            ApiRequest.client_id == client_id,
            ApiRequest.idempotency_key == key,
        )
    )


def _replay(session: Session, tenant_id: int, earlier: ApiRequest, body_sha256: str) -> BookingView:
    if earlier.body_sha256 != body_sha256:
        raise Conflict("This Idempotency-Key was used with a different request body")
    appt = session.get(Appointment, earlier.appointment_id)
    if appt is None or appt.tenant_id != tenant_id:
        raise NotFound("Booking not found")
    return _view(session, appt)


def _remember(
    session: Session, tenant_id: int, client_id: int, key: str, body: str, appt: Appointment
) -> None:
    session.add(
        ApiRequest(
            tenant_id=tenant_id,
            client_id=client_id,
            idempotency_key=key,
            body_sha256=body,
            appointment_id=appt.id,
            created_at=appt.created_at,
        )
    )
    session.flush()


def _patient_for(session: Session, actor: Actor, vault: PhoneVault, who: PatientDetails) -> int:
    """Return the clinic's patient with this phone and name, registering one if none."""
    phone = normalise_phone(who.phone)
    key = name_key(who.full_name)
    tenant_id = tenant_of(session, actor)
    for patient in by_phone_hash(session, tenant_id, vault.lookup_hash(phone)):
        if patient.name_key == key:
            return patient.id
    registered = register_patient(
        session, actor, vault=vault, full_name=who.full_name, phone=phone, age_years=who.age_years
    )
    return registered.patient.id


def _view(session: Session, appt: Appointment) -> BookingView:
    doctor = session.get(Doctor, appt.doctor_id)
    return BookingView(
        appointment_id=appt.id,
        status=appt.status,
        doctor_id=appt.doctor_id,
        doctor_name=doctor.full_name if doctor else "",
        branch_id=appt.branch_id,
        slot_start=appt.slot_start,
        slot_end=appt.slot_end,
        created_at=appt.created_at,
        cancel_reason=appt.cancel_reason,
    )
