"""Slot generation: the SPEC's 14-slot day, bookings, past, leave, overrides and DST."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, select

from core.clock import FrozenClock
from core.errors import NotFound, PermissionDenied
from core.scheduling import booking, doctors
from core.scheduling.slots import available_slots, next_free_slots
from db.models import DoctorSchedule
from tests.support import add_doctor, make_clinic, make_patient

IST = ZoneInfo("Asia/Kolkata")
MONDAY = dt.date(2026, 12, 7)
BEFORE = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
SPEC_LABELS = [
    "09:00", "09:30", "10:00", "10:30", "11:00", "11:30", "12:00", "12:30",
    "14:00", "14:30", "15:00", "15:30", "16:00", "16:30",
]  # fmt: skip


def frozen(actor, when=BEFORE):
    return dataclasses.replace(actor, clock=FrozenClock(when))


def local(day, hour, minute=0, zone=IST):
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=zone)


def labels(slots):
    return [s.label for s in slots]


def slots_on(session, clinic, doctor, day=MONDAY, when=BEFORE):
    return available_slots(
        session, frozen(clinic.receptionist, when), doctor_id=doctor.id, on_date=day
    )


def test_monday_gives_the_fourteen_spec_slots(session, clinic_a):
    doctor = add_doctor(session, clinic_a)
    slots = slots_on(session, clinic_a, doctor)
    assert labels(slots) == SPEC_LABELS
    first = slots[0]
    assert first.start == dt.datetime(2026, 12, 7, 3, 30, tzinfo=dt.UTC)
    assert first.end - first.start == dt.timedelta(minutes=30)
    assert (first.capacity, first.seats_left, first.branch_id) == (1, 1, clinic_a.branch.id)
    assert first.local_start.tzinfo is not None and first.on_date == MONDAY


def test_booked_slot_is_filtered_out(session, clinic_a):
    doctor = add_doctor(session, clinic_a)
    patient = make_patient(session, clinic_a)
    booking.book_appointment(
        session,
        frozen(clinic_a.receptionist),
        doctor_id=doctor.id,
        patient_id=patient.id,
        slot_start=local(MONDAY, 10),
    )
    assert labels(slots_on(session, clinic_a, doctor)) == [x for x in SPEC_LABELS if x != "10:00"]


def test_slot_with_capacity_stays_listed_until_full(session, clinic_a):
    doctor = add_doctor(session, clinic_a, weekdays=(1,))
    doctors.add_weekly_schedule(
        session,
        clinic_a.admin,
        doctor_id=doctor.id,
        branch_id=clinic_a.branch.id,
        weekdays=[0],
        start=dt.time(9),
        end=dt.time(10),
        slot_minutes=30,
        capacity=2,
    )
    actor = frozen(clinic_a.receptionist)
    for code in ("PATX001", "PATX002"):
        booking.book_appointment(
            session,
            actor,
            doctor_id=doctor.id,
            patient_id=make_patient(session, clinic_a, code).id,
            slot_start=local(MONDAY, 9),
        )
        left = {s.label: s.seats_left for s in slots_on(session, clinic_a, doctor)}
        assert left.get("09:00") == (1 if code == "PATX001" else None)


def test_past_slots_are_hidden_today(session, clinic_a):
    doctor = add_doctor(session, clinic_a)
    slots = slots_on(session, clinic_a, doctor, when=local(MONDAY, 11, 15))
    assert labels(slots) == SPEC_LABELS[5:]


def test_a_past_day_has_no_slots(session, clinic_a):
    doctor = add_doctor(session, clinic_a)
    assert slots_on(session, clinic_a, doctor, when=local(MONDAY + dt.timedelta(days=1), 8)) == []


def test_whole_day_leave_gives_no_slots(session, clinic_a):
    doctor = add_doctor(session, clinic_a)
    doctors.add_leave(
        session,
        clinic_a.admin,
        doctor_id=doctor.id,
        start_date=MONDAY,
        end_date=MONDAY,
        reason="Conference",
    )
    assert slots_on(session, clinic_a, doctor) == []
    assert labels(slots_on(session, clinic_a, doctor, MONDAY + dt.timedelta(days=1))) == (
        SPEC_LABELS
    )


def test_timed_leave_removes_only_its_slots(session, clinic_a):
    doctor = add_doctor(session, clinic_a)
    doctors.add_leave(
        session,
        clinic_a.admin,
        doctor_id=doctor.id,
        start_date=MONDAY,
        end_date=MONDAY,
        start_time=dt.time(10),
        end_time=dt.time(11, 15),
    )
    gone = {"10:00", "10:30", "11:00"}
    assert labels(slots_on(session, clinic_a, doctor)) == [x for x in SPEC_LABELS if x not in gone]


def test_override_replaces_the_weekly_schedule(session, clinic_a):
    doctor = add_doctor(session, clinic_a)
    doctors.set_override(
        session,
        clinic_a.admin,
        doctor_id=doctor.id,
        branch_id=clinic_a.branch.id,
        on_date=MONDAY,
        start=dt.time(10),
        end=dt.time(12),
        slot_minutes=20,
        breaks=[(dt.time(11), dt.time(11, 20))],
    )
    assert labels(slots_on(session, clinic_a, doctor)) == [
        "10:00",
        "10:20",
        "10:40",
        "11:20",
        "11:40",
    ]


def test_saturday_without_schedule_is_empty(session, clinic_a):
    doctor = add_doctor(session, clinic_a)
    assert slots_on(session, clinic_a, doctor, MONDAY + dt.timedelta(days=5)) == []


def test_schedule_outside_its_validity_or_inactive_is_ignored(session, clinic_a):
    doctor = add_doctor(session, clinic_a, weekdays=(0, 1))
    monday, tuesday = session.scalars(
        select(DoctorSchedule)
        .where(DoctorSchedule.doctor_id == doctor.id)
        .order_by(DoctorSchedule.weekday)
    ).all()
    monday.valid_to = MONDAY - dt.timedelta(days=1)
    tuesday.active = False
    session.flush()
    assert slots_on(session, clinic_a, doctor) == []
    assert slots_on(session, clinic_a, doctor, MONDAY + dt.timedelta(days=1)) == []


def _dst_slots(session, zone, day, start, end, minutes):
    clinic = make_clinic(session, timezone=zone)
    doctor = add_doctor(session, clinic)
    doctors.set_override(
        session,
        clinic.admin,
        doctor_id=doctor.id,
        branch_id=clinic.branch.id,
        on_date=day,
        start=start,
        end=end,
        slot_minutes=minutes,
    )
    when = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    return available_slots(
        session, frozen(clinic.receptionist, when), doctor_id=doctor.id, on_date=day
    )


def _never_overlap(slots):
    starts = [s.start for s in slots]
    assert starts == sorted(set(starts))
    assert all(a.end <= b.start for a, b in itertools.pairwise(slots))


def test_spring_forward_skips_local_times_that_do_not_exist(session):
    slots = _dst_slots(session, "Europe/London", dt.date(2026, 3, 29), dt.time(0), dt.time(4), 30)
    assert labels(slots) == ["00:00", "00:30", "02:00", "02:30", "03:00", "03:30"]
    assert [s.start.strftime("%H:%M") for s in slots] == [
        "00:00",
        "00:30",
        "01:00",
        "01:30",
        "02:00",
        "02:30",
    ]
    _never_overlap(slots)
    assert {b.start - a.start for a, b in itertools.pairwise(slots)} == {dt.timedelta(minutes=30)}


def test_spring_forward_with_odd_slot_length_never_overlaps(session):
    slots = _dst_slots(
        session, "Europe/London", dt.date(2026, 3, 29), dt.time(0, 50), dt.time(3), 25
    )
    # 02:05 BST is 01:05 UTC, inside the 00:50 slot (00:50-01:15 UTC): dropped, not doubled.
    assert labels(slots) == ["00:50", "02:30"]
    _never_overlap(slots)


def test_fall_back_uses_first_occurrence_without_duplicates(session):
    slots = _dst_slots(session, "Europe/London", dt.date(2026, 10, 25), dt.time(0), dt.time(4), 30)
    assert labels(slots) == ["00:00", "00:30", "01:00", "01:30", "02:00", "02:30", "03:00", "03:30"]
    one_am = slots[2]
    assert one_am.start == dt.datetime(2026, 10, 25, 0, 0, tzinfo=dt.UTC)  # BST, fold=0
    assert slots[4].start == dt.datetime(2026, 10, 25, 2, 0, tzinfo=dt.UTC)  # GMT
    _never_overlap(slots)


def test_new_york_spring_forward(session):
    slots = _dst_slots(session, "America/New_York", dt.date(2026, 3, 8), dt.time(1), dt.time(4), 20)
    assert labels(slots) == ["01:00", "01:20", "01:40", "03:00", "03:20", "03:40"]
    assert [s.start.hour for s in slots] == [6, 6, 6, 7, 7, 7]
    _never_overlap(slots)


def test_next_free_slots_continue_on_the_next_working_day(session, clinic_a):
    doctor = add_doctor(session, clinic_a)
    actor = frozen(clinic_a.receptionist)
    tuesday = next_free_slots(session, actor, doctor_id=doctor.id, after=local(MONDAY, 16, 30))
    assert [(s.on_date, s.label) for s in tuesday] == [
        (MONDAY + dt.timedelta(days=1), x) for x in ("09:00", "09:30", "10:00")
    ]
    friday = MONDAY + dt.timedelta(days=4)
    after_weekend = next_free_slots(
        session, actor, doctor_id=doctor.id, after=local(friday, 16, 30), limit=1
    )
    assert [(s.on_date, s.label) for s in after_weekend] == [
        (MONDAY + dt.timedelta(days=7), "09:00")
    ]


def test_next_free_slots_gives_up_after_two_weeks(session, clinic_a):
    doctor = add_doctor(session, clinic_a)
    doctors.add_leave(
        session,
        clinic_a.admin,
        doctor_id=doctor.id,
        start_date=MONDAY,
        end_date=MONDAY + dt.timedelta(days=30),
    )
    assert (
        next_free_slots(
            session, frozen(clinic_a.receptionist), doctor_id=doctor.id, after=local(MONDAY, 8)
        )
        == []
    )


@pytest.fixture
def count_queries(db):
    seen = []

    def counter(*_args):
        seen.append(1)

    event.listen(db.engine, "before_cursor_execute", counter)
    yield seen
    event.remove(db.engine, "before_cursor_execute", counter)


def test_slot_queries_do_not_grow_with_the_days_searched(session, clinic_a, count_queries):
    doctor = add_doctor(session, clinic_a)
    actor = frozen(clinic_a.receptionist)
    available_slots(session, actor, doctor_id=doctor.id, on_date=MONDAY)  # warm identity map
    count_queries.clear()
    available_slots(session, actor, doctor_id=doctor.id, on_date=MONDAY)
    one_day = len(count_queries)
    doctors.add_leave(
        session,
        clinic_a.admin,
        doctor_id=doctor.id,
        start_date=MONDAY,
        end_date=MONDAY + dt.timedelta(days=30),
    )
    count_queries.clear()
    assert next_free_slots(session, actor, doctor_id=doctor.id, after=local(MONDAY, 8)) == []
    assert one_day <= 7
    assert len(count_queries) <= one_day


def test_outsider_and_lab_cannot_list_slots(session, clinic_a, clinic_b):
    doctor = add_doctor(session, clinic_a)
    with pytest.raises(NotFound):
        available_slots(session, clinic_b.receptionist, doctor_id=doctor.id, on_date=MONDAY)
    with pytest.raises(NotFound):
        next_free_slots(session, clinic_b.receptionist, doctor_id=doctor.id, after=local(MONDAY, 8))
    with pytest.raises(PermissionDenied):
        available_slots(session, clinic_a.lab, doctor_id=doctor.id, on_date=MONDAY)
