"""Claiming a seat in a slot; the unique index ``uq_appointments_seat`` is the referee.

Each attempt INSERTs inside a SAVEPOINT. On PostgreSQL a concurrent INSERT of the same seat
blocks until the other transaction ends and then fails with a unique violation; on SQLite the
writer lock serialises bookings. Either way, at most one seat-holding row per (doctor, slot
start, seat) can exist, whatever the application believed beforehand.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.context import Actor
from core.errors import Conflict, SlotTaken
from core.scheduling.slots import Slot, free_slots_after, seats_taken
from db.models import Appointment, Doctor

SEAT_INDEX = "uq_appointments_seat"
PATIENT_INDEX = "uq_appointments_patient_slot"
KEY_CONSTRAINT = "uq_appointments_tenant_id_idempotency_key"
MAX_OVERBOOK_TRIES = 20


@dataclass(frozen=True)
class Request:
    """A validated booking: the doctor, patient and resolved slot."""

    doctor: Doctor
    patient_id: int
    slot: Slot
    visit_type: str
    source: str
    reason: str | None
    idempotency_key: str | None = None
    rescheduled_from_id: int | None = None


class KeyTaken(Exception):
    """A concurrent request with the same idempotency key inserted first."""


def take_seat(session: Session, actor: Actor, req: Request, now: dt.datetime) -> Appointment:
    """Claim the first free seat up to capacity, or raise ``SlotTaken`` with alternatives."""
    taken = _taken(session, req)
    free = [seat for seat in range(1, req.slot.capacity + 1) if seat not in taken]
    appt = _claim(session, actor, req, free, now)
    if appt is None:
        raise SlotTaken(
            alternatives=free_slots_after(
                session,
                req.doctor.tenant_id,
                doctor_id=req.doctor.id,
                after=req.slot.start,
                now=now,
            )
        )
    return appt


def take_extra_seat(session: Session, actor: Actor, req: Request, now: dt.datetime) -> Appointment:
    """Claim the next seat above capacity of a full slot (an overbooking)."""
    taken = _taken(session, req)
    capacity = req.slot.capacity
    if any(seat not in taken for seat in range(1, capacity + 1)):
        raise Conflict("The slot still has free seats; book it normally")
    first = max([capacity, *taken]) + 1
    appt = _claim(session, actor, req, range(first, first + MAX_OVERBOOK_TRIES), now)
    if appt is None:
        raise Conflict("The slot is too busy to overbook right now; try again")
    return appt


def _claim(
    session: Session, actor: Actor, req: Request, seats: Iterable[int], now: dt.datetime
) -> Appointment | None:
    """INSERT the first seat the unique index lets us have; None when every seat is held."""
    for seat in seats:
        row = _new_row(actor, req, seat, now)
        try:
            # The SAVEPOINT keeps the transaction usable after a unique violation (PostgreSQL
            # aborts the whole transaction otherwise); the failed row is expunged with it.
            with session.begin_nested():
                session.add(row)
                session.flush()
        except IntegrityError as exc:
            violated = _constraint(exc)
            if violated == KEY_CONSTRAINT:
                raise KeyTaken from exc
            if violated == PATIENT_INDEX:
                raise Conflict("The patient already has this slot with this doctor") from exc
            if violated != SEAT_INDEX:
                raise
            continue
        return row
    return None


def _new_row(actor: Actor, req: Request, seat: int, now: dt.datetime) -> Appointment:
    slot = req.slot
    return Appointment(
        tenant_id=req.doctor.tenant_id,
        branch_id=slot.branch_id,
        department_id=req.doctor.department_id,
        doctor_id=req.doctor.id,
        patient_id=req.patient_id,
        slot_start=slot.start,
        slot_end=slot.end,
        service_date=slot.on_date,
        seat=seat,
        overbooked=seat > slot.capacity,
        visit_type=req.visit_type,
        source=req.source,
        status="scheduled",
        reason=req.reason,
        booked_by=actor.user_id,
        idempotency_key=req.idempotency_key,
        rescheduled_from_id=req.rescheduled_from_id,
        created_at=now,
        updated_at=now,
    )


def _constraint(exc: IntegrityError) -> str:
    """Name the unique constraint behind an IntegrityError (psycopg diag, else SQLite text)."""
    name = getattr(getattr(exc.orig, "diag", None), "constraint_name", None)
    if name:
        return str(name)
    message = str(exc.orig)
    if "appointments.patient_id" in message:
        return PATIENT_INDEX
    if "appointments.seat" in message:
        return SEAT_INDEX
    if "appointments.idempotency_key" in message:
        return KEY_CONSTRAINT
    return ""


def _taken(session: Session, req: Request) -> set[int]:
    found = seats_taken(session, req.doctor.tenant_id, doctor_id=req.doctor.id, slots=[req.slot])
    return found.get(req.slot.start, set())
