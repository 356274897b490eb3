"""Booking, overbooking, rescheduling and cancelling: the rules and their errors."""

from __future__ import annotations

import dataclasses
import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from core.clock import FrozenClock
from core.errors import (
    Conflict,
    DoctorNotAvailable,
    NotFound,
    PermissionDenied,
    SlotTaken,
    ValidationFailed,
)
from core.scheduling import doctors, seats
from core.scheduling.booking import (
    access_appointment,
    book_appointment,
    cancel_appointment,
    overbook_appointment,
    reschedule_appointment,
)
from core.scheduling.slots import available_slots
from db.models import Appointment, AuditEntry
from tests.support import add_doctor, make_patient

IST = ZoneInfo("Asia/Kolkata")
MONDAY = dt.date(2026, 12, 7)
NOW = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)


def frozen(actor, when=NOW):
    return dataclasses.replace(actor, clock=FrozenClock(when))


def at(hour, minute=0, day=MONDAY):
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=IST)


def appointment_count(session):
    return session.scalar(select(func.count()).select_from(Appointment))


def audit_actions(session, clinic, entity_id):
    return session.scalars(
        select(AuditEntry.action)
        .where(
            AuditEntry.tenant_id == clinic.tenant_id,
            AuditEntry.entity == "appointment",
            AuditEntry.entity_id == str(entity_id),
        )
        .order_by(AuditEntry.seq)
    ).all()


@pytest.fixture
def desk(session, clinic_a):
    """Clinic A's receptionist on 1 Dec 2026, a doctor with the SPEC schedule, two patients."""
    doctor = add_doctor(session, clinic_a)
    patients = [make_patient(session, clinic_a, f"PATX00{n}") for n in (1, 2, 3)]
    return frozen(clinic_a.receptionist), doctor, patients


def book(session, actor, doctor, patient, when, **kwargs):
    return book_appointment(
        session, actor, doctor_id=doctor.id, patient_id=patient.id, slot_start=when, **kwargs
    )


def test_booking_a_free_slot_holds_seat_one_and_is_audited(session, clinic_a, desk):
    actor, doctor, (patient, *_) = desk
    appt = book(session, actor, doctor, patient, at(9), reason="Fever")
    assert (appt.status, appt.seat, appt.overbooked) == ("scheduled", 1, False)
    assert appt.slot_start == dt.datetime(2026, 12, 7, 3, 30, tzinfo=dt.UTC)
    assert appt.slot_end - appt.slot_start == dt.timedelta(minutes=30)
    assert (appt.service_date, appt.branch_id) == (MONDAY, clinic_a.branch.id)
    assert appt.department_id == doctor.department_id and appt.booked_by == actor.user_id
    assert audit_actions(session, clinic_a, appt.id) == ["appointment.book"]


def test_booking_on_a_leave_day_says_doctor_not_available(session, clinic_a, desk):
    actor, doctor, (patient, *_) = desk
    doctors.add_leave(
        session, clinic_a.admin, doctor_id=doctor.id, start_date=MONDAY, end_date=MONDAY
    )
    before = appointment_count(session)
    with pytest.raises(DoctorNotAvailable) as caught:
        book(session, actor, doctor, patient, at(10))
    assert caught.value.message == "Doctor not available" == str(caught.value)
    assert appointment_count(session) == before


@pytest.mark.parametrize(
    ("hour", "minute", "day"),
    [
        (18, 0, MONDAY),
        (13, 0, MONDAY),
        (8, 30, MONDAY),
        (10, 0, MONDAY + dt.timedelta(days=5)),
    ],
)
def test_booking_outside_working_hours_says_doctor_not_available(session, desk, hour, minute, day):
    actor, doctor, (patient, *_) = desk
    with pytest.raises(DoctorNotAvailable, match=r"^Doctor not available$"):
        book(session, actor, doctor, patient, at(hour, minute, day))


def test_timed_leave_blocks_only_its_slots(session, clinic_a, desk):
    actor, doctor, (patient, *_) = desk
    doctors.add_leave(
        session,
        clinic_a.admin,
        doctor_id=doctor.id,
        start_date=MONDAY,
        end_date=MONDAY,
        start_time=dt.time(10),
        end_time=dt.time(11),
    )
    with pytest.raises(DoctorNotAvailable):
        book(session, actor, doctor, patient, at(10, 30))
    assert book(session, actor, doctor, patient, at(11)).seat == 1


def test_second_booking_of_same_slot_gets_slot_taken(session, desk):
    actor, doctor, (first, second, _) = desk
    book(session, actor, doctor, first, at(9))
    before = appointment_count(session)
    with pytest.raises(SlotTaken) as caught:
        book(session, actor, doctor, second, at(9))
    assert caught.value.message == "Slot just taken"
    alternatives = caught.value.alternatives
    assert [s.label for s in alternatives] == ["09:30", "10:00", "10:30"]
    free = {s.start for s in available_slots(session, actor, doctor_id=doctor.id, on_date=MONDAY)}
    assert {s.start for s in alternatives} <= free
    assert appointment_count(session) == before


def test_capacity_two_lets_two_book_and_the_third_gets_slot_taken(session, clinic_a, desk):
    actor, _, patients = desk
    doctor = add_doctor(session, clinic_a, name="Dr. Two Chairs", weekdays=(1,))
    doctors.add_weekly_schedule(
        session,
        clinic_a.admin,
        doctor_id=doctor.id,
        branch_id=clinic_a.branch.id,
        weekdays=[0],
        start=dt.time(9),
        end=dt.time(12),
        slot_minutes=30,
        capacity=2,
    )
    first, second = (book(session, actor, doctor, p, at(9)) for p in patients[:2])
    assert (first.seat, second.seat) == (1, 2)
    with pytest.raises(SlotTaken) as caught:
        book(session, actor, doctor, patients[2], at(9))
    assert caught.value.alternatives[0].label == "09:30"
    assert caught.value.alternatives[0].seats_left == 2


def test_same_patient_cannot_hold_two_seats_of_one_slot(session, clinic_a, desk):
    actor, _, (patient, *_) = desk
    doctor = add_doctor(session, clinic_a, name="Dr. Two Chairs", weekdays=(1,))
    doctors.add_weekly_schedule(
        session,
        clinic_a.admin,
        doctor_id=doctor.id,
        branch_id=clinic_a.branch.id,
        weekdays=[0],
        start=dt.time(9),
        end=dt.time(12),
        slot_minutes=30,
        capacity=2,
    )
    book(session, actor, doctor, patient, at(9))
    with pytest.raises(Conflict):
        book(session, actor, doctor, patient, at(9))


def test_overbook_takes_a_flagged_seat_above_capacity_and_is_audited(session, clinic_a, desk):
    actor, doctor, (first, second, third) = desk
    book(session, actor, doctor, first, at(9))
    with pytest.raises(SlotTaken):
        book(session, actor, doctor, second, at(9))
    extra = overbook_appointment(
        session, actor, doctor_id=doctor.id, patient_id=second.id, slot_start=at(9)
    )
    another = overbook_appointment(
        session, actor, doctor_id=doctor.id, patient_id=third.id, slot_start=at(9)
    )
    assert (extra.seat, extra.overbooked, another.seat) == (2, True, 3)
    assert audit_actions(session, clinic_a, extra.id) == ["appointment.overbook"]
    assert "09:00" not in {
        s.label for s in available_slots(session, actor, doctor_id=doctor.id, on_date=MONDAY)
    }


def test_overbook_needs_the_permission(session, clinic_a, desk):
    actor, doctor, (first, second, _) = desk
    book(session, actor, doctor, first, at(9))
    before = appointment_count(session)
    with pytest.raises(PermissionDenied):
        overbook_appointment(
            session,
            frozen(clinic_a.lab),
            doctor_id=doctor.id,
            patient_id=second.id,
            slot_start=at(9),
        )
    with pytest.raises(PermissionDenied):
        book(session, frozen(clinic_a.lab), doctor, second, at(10))
    assert appointment_count(session) == before


def test_overbook_of_a_slot_with_free_seats_is_refused(session, desk):
    actor, doctor, (patient, *_) = desk
    with pytest.raises(Conflict):
        overbook_appointment(
            session, actor, doctor_id=doctor.id, patient_id=patient.id, slot_start=at(9)
        )


def test_cancel_frees_the_slot_for_rebooking(session, clinic_a, desk):
    actor, doctor, (first, second, _) = desk
    appt = book(session, actor, doctor, first, at(9))
    cancelled = cancel_appointment(session, actor, appointment_id=appt.id, reason="Travelling")
    assert (cancelled.status, cancelled.cancel_reason) == ("cancelled", "Travelling")
    assert cancelled.cancelled_at == NOW
    labels = [s.label for s in available_slots(session, actor, doctor_id=doctor.id, on_date=MONDAY)]
    assert labels[0] == "09:00"
    assert book(session, actor, doctor, second, at(9)).seat == 1
    assert audit_actions(session, clinic_a, appt.id) == ["appointment.book", "appointment.cancel"]


def test_cancel_is_compare_and_set(session, clinic_a, desk):
    actor, doctor, (patient, *_) = desk
    appt = book(session, actor, doctor, patient, at(9))
    cancel_appointment(session, actor, appointment_id=appt.id, reason="Travelling")
    with pytest.raises(Conflict):
        cancel_appointment(session, actor, appointment_id=appt.id, reason="Again")
    with pytest.raises(ValidationFailed):
        cancel_appointment(session, actor, appointment_id=appt.id, reason="  ")
    with pytest.raises(PermissionDenied):
        cancel_appointment(session, clinic_a.lab, appointment_id=appt.id, reason="x")


def test_reschedule_keeps_history(session, clinic_a, desk):
    actor, doctor, (patient, *_) = desk
    old = book(session, actor, doctor, patient, at(9), reason="Cough")
    new = reschedule_appointment(session, actor, appointment_id=old.id, new_slot_start=at(11))
    assert (old.status, old.cancel_reason) == ("cancelled", "rescheduled")
    assert (new.status, new.rescheduled_from_id, new.patient_id) == (
        "scheduled",
        old.id,
        patient.id,
    )
    assert (new.reason, new.slot_start) == ("Cough", at(11))
    labels = {s.label for s in available_slots(session, actor, doctor_id=doctor.id, on_date=MONDAY)}
    assert "09:00" in labels and "11:00" not in labels
    assert audit_actions(session, clinic_a, new.id) == ["appointment.reschedule"]


def test_reschedule_into_a_taken_slot_changes_nothing(session, desk):
    actor, doctor, (first, second, _) = desk
    mine = book(session, actor, doctor, first, at(9))
    book(session, actor, doctor, second, at(10))
    before = appointment_count(session)
    with pytest.raises(SlotTaken) as caught:
        reschedule_appointment(session, actor, appointment_id=mine.id, new_slot_start=at(10))
    assert caught.value.alternatives
    session.expire_all()
    assert (mine.status, mine.cancel_reason) == ("scheduled", None)
    assert appointment_count(session) == before
    assert "09:00" not in {s.label for s in caught.value.alternatives}


def test_reschedule_of_a_cancelled_appointment_is_refused(session, desk):
    actor, doctor, (patient, *_) = desk
    appt = book(session, actor, doctor, patient, at(9))
    cancel_appointment(session, actor, appointment_id=appt.id, reason="Travelling")
    with pytest.raises(Conflict):
        reschedule_appointment(session, actor, appointment_id=appt.id, new_slot_start=at(10))


def test_same_idempotency_key_returns_the_same_appointment(session, desk):
    actor, doctor, (patient, other, _) = desk
    before = appointment_count(session)
    first = book(session, actor, doctor, patient, at(9), idempotency_key="wa-msg-1")
    again = book(session, actor, doctor, patient, at(9), idempotency_key="wa-msg-1")
    assert again.id == first.id
    assert appointment_count(session) == before + 1
    with pytest.raises(Conflict):
        book(session, actor, doctor, other, at(10), idempotency_key="wa-msg-1")


def test_constraint_not_the_precheck_stops_double_booking(session, desk, monkeypatch):
    actor, doctor, (first, second, _) = desk
    monkeypatch.setattr(seats, "_taken", lambda *_args: set())  # a stale read of free seats
    book(session, actor, doctor, first, at(9))
    with pytest.raises(SlotTaken) as caught:
        book(session, actor, doctor, second, at(9))
    assert caught.value.alternatives
    held = session.scalar(
        select(func.count()).where(
            Appointment.doctor_id == doctor.id, Appointment.status != "cancelled"
        )
    )
    assert held == 1


def test_stale_precheck_falls_through_to_the_next_seat(session, clinic_a, desk, monkeypatch):
    actor, _, (first, second, _) = desk
    doctor = add_doctor(session, clinic_a, name="Dr. Two Chairs", weekdays=(1,))
    doctors.add_weekly_schedule(
        session,
        clinic_a.admin,
        doctor_id=doctor.id,
        branch_id=clinic_a.branch.id,
        weekdays=[0],
        start=dt.time(9),
        end=dt.time(12),
        slot_minutes=30,
        capacity=2,
    )
    monkeypatch.setattr(seats, "_taken", lambda *_args: set())
    book(session, actor, doctor, first, at(9))
    assert book(session, actor, doctor, second, at(9)).seat == 2


def _other_clinic_doctor(session, clinic_b):
    return add_doctor(session, clinic_b, name="Dr. Elsewhere").id


@pytest.mark.parametrize(
    ("case", "error", "message"),
    [
        ("past", ValidationFailed, "past"),
        ("naive", ValidationFailed, "timezone"),
        ("misaligned", ValidationFailed, "Not a bookable slot time"),
        ("seconds", ValidationFailed, "Not a bookable slot time"),
        ("unknown_doctor", NotFound, "Doctor"),
        ("other_clinic_doctor", NotFound, "Doctor"),
        ("unknown_patient", NotFound, "Patient"),
        ("other_clinic_patient", NotFound, "Patient"),
        ("bad_visit_type", ValidationFailed, "Visit type"),
    ],
)
def test_bad_input_gets_a_clear_error_and_writes_nothing(
    session, clinic_b, desk, case, error, message
):
    actor, doctor, (patient, *_) = desk
    args = {"doctor_id": doctor.id, "patient_id": patient.id, "slot_start": at(9)}
    changes = {
        "past": {"slot_start": NOW - dt.timedelta(days=1)},
        "naive": {"slot_start": dt.datetime(2026, 12, 7, 9)},
        "misaligned": {"slot_start": at(9, 10)},
        "seconds": {"slot_start": at(9) + dt.timedelta(seconds=30)},
        "unknown_doctor": {"doctor_id": 987654},
        "other_clinic_doctor": {"doctor_id": _other_clinic_doctor(session, clinic_b)},
        "unknown_patient": {"patient_id": 987654},
        "other_clinic_patient": {"patient_id": make_patient(session, clinic_b).id},
        "bad_visit_type": {"visit_type": "vip"},
    }
    before = appointment_count(session)
    with pytest.raises(error, match=message):
        book_appointment(session, actor, **(args | changes[case]))
    assert appointment_count(session) == before


def test_outsider_cannot_see_or_change_an_appointment(session, clinic_b, desk):
    actor, doctor, (patient, *_) = desk
    appt = book(session, actor, doctor, patient, at(9))
    outsider = frozen(clinic_b.receptionist)
    with pytest.raises(NotFound):
        access_appointment(session, outsider, appt.id)
    with pytest.raises(NotFound):
        cancel_appointment(session, outsider, appointment_id=appt.id, reason="x")
    with pytest.raises(NotFound):
        reschedule_appointment(session, outsider, appointment_id=appt.id, new_slot_start=at(10))
    with pytest.raises(NotFound):
        book(session, outsider, doctor, patient, at(10))
    with pytest.raises(NotFound):
        book(session, actor, doctor, patient, at(10), branch_id=clinic_b.branch.id)
    assert access_appointment(session, actor, appt.id).status == "scheduled"
