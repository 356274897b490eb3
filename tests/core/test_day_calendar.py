"""The reception calendar read, the clinic's booking rules and booking confirmations."""

from __future__ import annotations

import dataclasses
import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from core.clock import FrozenClock
from core.errors import PermissionDenied, ValidationFailed
from core.scheduling.booking import (
    BOOKING_CONFIRMED,
    book_appointment,
    cancel_appointment,
    overbook_appointment,
)
from core.scheduling.booking_rules import BookingRules, booking_rules, set_booking_rules
from core.scheduling.day_calendar import day_calendar
from core.scheduling.waitlist import Wish, add_to_waitlist
from db.models import OutboxMessage
from tests.support import add_doctor, make_patient

IST = ZoneInfo("Asia/Kolkata")
MONDAY = dt.date(2026, 12, 7)
NOW = dt.datetime(2026, 12, 7, 4, 0, tzinfo=dt.UTC)  # Monday 09:30 in Kolkata


def at(hour, minute=0):
    return dt.datetime.combine(MONDAY, dt.time(hour, minute), tzinfo=IST)


@pytest.fixture
def desk(session, clinic_a):
    actor = dataclasses.replace(clinic_a.receptionist, clock=FrozenClock(NOW))
    doctor = add_doctor(session, clinic_a)
    patients = [make_patient(session, clinic_a, f"PATC00{n}") for n in range(3)]
    return actor, doctor, patients


def book(session, actor, doctor, patient, when, **kwargs):
    return book_appointment(
        session, actor, doctor_id=doctor.id, patient_id=patient.id, slot_start=when, **kwargs
    )


def test_the_grid_has_a_cell_per_doctor_and_time_with_free_full_and_past(session, clinic_a, desk):
    actor, doctor, (ravi, meena, _) = desk
    book(session, actor, doctor, ravi, at(10))
    overbook_appointment(
        session, actor, doctor_id=doctor.id, patient_id=meena.id, slot_start=at(10)
    )
    cal = day_calendar(session, actor, branch_id=clinic_a.branch.id, on_date=MONDAY)
    assert cal.times[0] == "09:00" and cal.times[-1] == "16:30" and len(cal.times) == 14
    early, ten, eleven = (cal.cell(doctor.id, t) for t in ("09:00", "10:00", "11:00"))
    assert early.past and not early.free and not early.full
    assert ten.full and not ten.free and [r.overbooked for r in ten.booked] == [False, True]
    assert [r.patient_id for r in ten.booked] == [ravi.id, meena.id]
    assert eleven.free and eleven.seats_left == 1 and eleven.booked == ()
    assert cal.cell(doctor.id, "13:00") is None and cal.overbook_allowed


def test_an_open_offer_shows_on_its_cell(session, clinic_a, desk):
    actor, doctor, (ravi, meena, _) = desk
    appt = book(session, actor, doctor, ravi, at(11))
    add_to_waitlist(session, actor, Wish(meena.id, clinic_a.branch.id, MONDAY, doctor.id))
    cancel_appointment(session, actor, appointment_id=appt.id, reason="travelling")
    cal = day_calendar(session, actor, branch_id=clinic_a.branch.id, on_date=MONDAY)
    offer = cal.cell(doctor.id, "11:00").offer
    assert offer is not None and offer.patient_id == meena.id and offer.offer_expires == "10:00"
    assert [w.patient_id for w in cal.waiting] == [meena.id]


def test_a_clinic_that_turned_overbooking_off_refuses_it(session, clinic_a, desk):
    actor, doctor, (ravi, meena, _) = desk
    book(session, actor, doctor, ravi, at(10))
    set_booking_rules(session, clinic_a.admin, BookingRules(overbook_allowed=False))
    assert booking_rules(session, clinic_a.tenant_id) == BookingRules(False, 30)
    with pytest.raises(PermissionDenied, match="does not allow overbooking"):
        overbook_appointment(
            session, actor, doctor_id=doctor.id, patient_id=meena.id, slot_start=at(10)
        )
    cal = day_calendar(session, actor, branch_id=clinic_a.branch.id, on_date=MONDAY)
    assert not cal.overbook_allowed


def test_only_an_admin_sets_booking_rules_and_within_range(session, clinic_a):
    with pytest.raises(PermissionDenied):
        set_booking_rules(session, clinic_a.receptionist, BookingRules())
    with pytest.raises(ValidationFailed):
        set_booking_rules(session, clinic_a.admin, BookingRules(offer_minutes=0))


def test_a_desk_booking_queues_a_whatsapp_confirmation_a_chat_booking_does_not(
    session, clinic_a, desk
):
    actor, doctor, (ravi, meena, _) = desk
    desk_booking = book(session, actor, doctor, ravi, at(10))
    book(session, actor, doctor, meena, at(11), source="whatsapp")
    rows = session.execute(
        select(OutboxMessage.kind, OutboxMessage.payload).where(
            OutboxMessage.tenant_id == clinic_a.tenant_id, OutboxMessage.kind == BOOKING_CONFIRMED
        )
    ).all()
    assert rows == [(BOOKING_CONFIRMED, {"appointment_id": desk_booking.id})]
