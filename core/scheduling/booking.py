"""Booking, overbooking, rescheduling and cancelling appointments.

Double booking is impossible by construction: ``uq_appointments_seat`` is unique over (tenant,
doctor, slot start, seat) for seat-holding rows. A booking INSERTs one seat at a time inside a
SAVEPOINT; a unique violation means someone else holds that seat, so the next one is tried, and
when none is left the caller gets ``SlotTaken`` with the next free slots. Counting free seats
first only saves a round trip; it never decides.
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
from core.errors import (
    Conflict,
    DoctorNotAvailable,
    PermissionDenied,
    SlotTaken,
    ValidationFailed,
)
from core.patients.views import load_patient
from core.plans.limits import check_booking_allowed
from core.queue.events import enqueue_intents
from core.scheduling.booking_rules import booking_rules
from core.scheduling.doctors import access_doctor
from core.scheduling.seats import KeyTaken, Request, take_extra_seat, take_seat
from core.scheduling.slots import SEAT_HOLDING, Slot, check_aware, resolve_slot
from core.scheduling.waitlist_offers import offer_freed_slot
from core.tenancy import access_branch
from db.models import Appointment, Doctor, Patient

VISIT_TYPES = ("new", "follow_up")
SOURCES = ("reception", "whatsapp", "web", "walk_in")
BOOKING_CONFIRMED = "whatsapp.booking_confirmed"  # outbox intent, payload {appointment_id}
# "your appointment changed" notices (core.messaging.booking_notices), whoever made the change
BOOKING_CANCELLED = "whatsapp.booking_cancelled"  # payload {appointment_id}
BOOKING_RESCHEDULED = "whatsapp.booking_rescheduled"  # payload {appointment_id, from_id}


@dataclass(frozen=True)
class _Ask:
    """A booking request as the caller phrased it, before validation."""

    doctor_id: int
    patient_id: int
    slot_start: dt.datetime
    branch_id: int | None = None
    visit_type: str = "new"
    source: str = "reception"
    reason: str | None = None
    idempotency_key: str | None = None
    rescheduled_from_id: int | None = None


def book_appointment(
    session: Session,
    actor: Actor,
    *,
    doctor_id: int,
    patient_id: int,
    slot_start: dt.datetime,
    branch_id: int | None = None,
    visit_type: str = "new",
    source: str = "reception",
    reason: str | None = None,
    idempotency_key: str | None = None,
) -> Appointment:
    """Book a seat in a doctor's slot, or raise ``SlotTaken`` offering the next free slots."""
    require(actor, "appointment.book")
    return _book(
        session,
        actor,
        _Ask(
            doctor_id,
            patient_id,
            slot_start,
            branch_id,
            visit_type,
            source,
            reason,
            idempotency_key,
        ),
        overbook=False,
    )


def overbook_appointment(
    session: Session,
    actor: Actor,
    *,
    doctor_id: int,
    patient_id: int,
    slot_start: dt.datetime,
    branch_id: int | None = None,
    visit_type: str = "new",
    source: str = "reception",
    reason: str | None = None,
    idempotency_key: str | None = None,
) -> Appointment:
    """Book a seat above a full slot's capacity on purpose; flagged and audited."""
    require(actor, "appointment.overbook")
    return _book(
        session,
        actor,
        _Ask(
            doctor_id,
            patient_id,
            slot_start,
            branch_id,
            visit_type,
            source,
            reason,
            idempotency_key,
        ),
        overbook=True,
    )


def reschedule_appointment(
    session: Session,
    actor: Actor,
    *,
    appointment_id: int,
    new_slot_start: dt.datetime,
    tell_patient: bool = True,
) -> Appointment:
    """Move a scheduled appointment to another slot; the old row stays, cancelled.

    Runs in a SAVEPOINT and claims the new seat before releasing the old one: if the new slot
    is taken (``SlotTaken``) or the old row changed meanwhile (``Conflict``), nothing changes.
    The patient is told over WhatsApp unless ``tell_patient`` is false (the caller is the
    patient's own WhatsApp chat, which confirms the move itself).
    """
    require(actor, "appointment.book")
    old = access_appointment(session, actor, appointment_id)
    check_aware(new_slot_start, "new_slot_start")
    if old.status != "scheduled":
        raise Conflict("Only a scheduled appointment can be rescheduled")
    if new_slot_start == old.slot_start:
        raise ValidationFailed("Pick a different slot", field="new_slot_start")
    now = actor.clock()
    ask = _Ask(
        old.doctor_id,
        old.patient_id,
        new_slot_start,
        None,
        old.visit_type,
        old.source,
        old.reason,
        rescheduled_from_id=old.id,
    )
    with session.begin_nested():
        new = take_seat(session, actor, _prepare(session, actor, now, ask), now)
        _cancel_row(session, old, reason="rescheduled", now=now)
    _audit(session, actor, "appointment.reschedule", new, rescheduled_from_id=old.id)
    if tell_patient:
        _tell_changed(session, BOOKING_RESCHEDULED, new, now, from_id=old.id)
    _offer_freed(session, old, now)
    return new


def cancel_appointment(
    session: Session,
    actor: Actor,
    *,
    appointment_id: int,
    reason: str,
    tell_patient: bool = True,
) -> Appointment:
    """Cancel a scheduled appointment, freeing its seat; ``Conflict`` if it moved on.

    The patient is told over WhatsApp unless ``tell_patient`` is false (see the reschedule).
    """
    require(actor, "appointment.cancel")
    appt = access_appointment(session, actor, appointment_id)
    reason = (reason or "").strip()
    if not reason or len(reason) > 200:
        raise ValidationFailed("Give a cancellation reason (up to 200 characters)", field="reason")
    now = actor.clock()
    _cancel_row(session, appt, reason=reason, now=now)
    _audit(session, actor, "appointment.cancel", appt)
    if tell_patient:
        _tell_changed(session, BOOKING_CANCELLED, appt, now)
    _offer_freed(session, appt, now)
    return appt


def access_appointment(session: Session, actor: Actor, appointment_id: int) -> Appointment:
    """Fetch an appointment of the actor's clinic, or raise ``NotFound``."""
    return load_owned(session, actor, Appointment, appointment_id, "Appointment")


def _book(session: Session, actor: Actor, ask: _Ask, *, overbook: bool) -> Appointment:
    check_aware(ask.slot_start, "slot_start")
    replay = _replay(session, actor, ask)
    if replay is not None:
        return replay
    now = actor.clock()
    take = take_extra_seat if overbook else take_seat
    check_booking_allowed(session, tenant_of(session, actor))
    try:
        req = _prepare(session, actor, now, ask)
        if overbook and not booking_rules(session, req.doctor.tenant_id).overbook_allowed:
            raise PermissionDenied("This clinic does not allow overbooking")
        appt = take(session, actor, req, now)
    except (KeyTaken, SlotTaken, Conflict) as exc:
        # A concurrent retry with the same key may have committed meanwhile; it surfaces as the
        # key or seat index (whichever PostgreSQL checks first) or as "patient already booked".
        replay = _replay(session, actor, ask)
        if replay is not None:
            return replay
        if isinstance(exc, KeyTaken):
            raise Conflict("Duplicate booking request") from exc
        raise
    action = "appointment.overbook" if overbook else "appointment.book"
    _audit(session, actor, action, appt, capacity=req.slot.capacity)
    _confirm(session, appt, now)
    return appt


def _prepare(session: Session, actor: Actor, now: dt.datetime, ask: _Ask) -> Request:
    """Validate a booking request and find its slot; nothing is written."""
    _check_choice(ask.visit_type, VISIT_TYPES, "visit_type")
    _check_choice(ask.source, SOURCES, "source")
    doctor = access_doctor(session, actor, ask.doctor_id)
    _access_patient(session, actor, ask.patient_id)
    if ask.branch_id is not None:
        access_branch(session, actor, ask.branch_id)
    if ask.slot_start < now:
        raise ValidationFailed("That slot is in the past", field="slot_start")
    if not doctor.active:
        raise DoctorNotAvailable()
    slot = resolve_slot(
        session,
        doctor.tenant_id,
        doctor_id=doctor.id,
        slot_start=ask.slot_start,
        branch_id=ask.branch_id,
    )
    _reject_same_patient(session, doctor, ask.patient_id, slot)
    return Request(
        doctor,
        ask.patient_id,
        slot,
        ask.visit_type,
        ask.source,
        (ask.reason or "").strip() or None,
        ask.idempotency_key,
        ask.rescheduled_from_id,
    )


def _cancel_row(session: Session, appt: Appointment, *, reason: str, now: dt.datetime) -> None:
    """Compare-and-set ``scheduled`` → ``cancelled``; ``Conflict`` if the status moved on."""
    stmt = (
        update(Appointment)
        .where(
            Appointment.id == appt.id,
            Appointment.tenant_id == appt.tenant_id,
            Appointment.status == "scheduled",
        )
        .values(status="cancelled", cancel_reason=reason, cancelled_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    result = cast("CursorResult[Any]", session.execute(stmt))
    if result.rowcount != 1:
        raise Conflict("Only a scheduled appointment can be changed")
    session.refresh(appt)


def _confirm(session: Session, appt: Appointment, now: dt.datetime) -> None:
    """Write the WhatsApp confirmation intent; a WhatsApp booking is confirmed in its chat."""
    if appt.source == "whatsapp":
        return
    row = {
        "kind": BOOKING_CONFIRMED,
        "payload": {"appointment_id": appt.id},
        "dedupe_key": f"booked:{appt.id}",
    }
    enqueue_intents(session, tenant_id=appt.tenant_id, rows=[row], at=now)


def _tell_changed(
    session: Session, kind: str, appt: Appointment, now: dt.datetime, **extra: int
) -> None:
    """Write the "your appointment changed" intent; one per appointment row (dedupe key).

    Whatever made the booking (desk, web page, partner API, WhatsApp) and whatever changed it,
    the patient hears of it here; the relay skips a patient it cannot reach.
    """
    label = "cancelled" if kind == BOOKING_CANCELLED else "rescheduled"
    row = {
        "kind": kind,
        "payload": {"appointment_id": appt.id, **extra},
        "dedupe_key": f"{label}:{appt.id}",
    }
    enqueue_intents(session, tenant_id=appt.tenant_id, rows=[row], at=now)


def _offer_freed(session: Session, appt: Appointment, now: dt.datetime) -> None:
    """Offer the seat just freed to the waiting list (an outbox intent if someone fits)."""
    offer_freed_slot(
        session, appt.tenant_id, doctor_id=appt.doctor_id, slot_start=appt.slot_start, now=now
    )


def _replay(session: Session, actor: Actor, ask: _Ask) -> Appointment | None:
    """Return the appointment an earlier request with the same key made (same booking only)."""
    if ask.idempotency_key is None:
        return None
    tenant_id = tenant_of(session, actor)
    appt = session.scalar(
        select(Appointment).where(
            Appointment.tenant_id == tenant_id, Appointment.idempotency_key == ask.idempotency_key
        )
    )
    if appt is None:
        return None
    if (appt.doctor_id, appt.patient_id, appt.slot_start) != (
        ask.doctor_id,
        ask.patient_id,
        ask.slot_start,
    ):
        raise Conflict("This idempotency key was used for a different booking")
    return appt


def _reject_same_patient(session: Session, doctor: Doctor, patient_id: int, slot: Slot) -> None:
    held = session.scalar(
        select(Appointment.id).where(
            Appointment.tenant_id == doctor.tenant_id,
            Appointment.doctor_id == doctor.id,
            Appointment.patient_id == patient_id,
            Appointment.slot_start == slot.start,
            SEAT_HOLDING,
        )
    )
    if held is not None:
        raise Conflict("The patient already has this slot with this doctor")


def _access_patient(session: Session, actor: Actor, patient_id: int) -> Patient:
    # Booking audits itself; the patient.read audit of access_patient would double it.
    return load_patient(session, tenant_of(session, actor), patient_id)


def _check_choice(value: str, choices: tuple[str, ...], field: str) -> None:
    if value not in choices:
        label = field.replace("_", " ").capitalize()
        raise ValidationFailed(f"{label} must be one of {', '.join(choices)}", field=field)


def _audit(session: Session, actor: Actor, action: str, appt: Appointment, **extra: Any) -> None:
    detail = {
        "doctor_id": appt.doctor_id,
        "patient_id": appt.patient_id,
        "seat": appt.seat,
        **extra,
    }
    audit.record(session, actor, action, entity="appointment", entity_id=appt.id, detail=detail)
