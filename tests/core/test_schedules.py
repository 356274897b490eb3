from __future__ import annotations

import datetime as dt

import pytest

from core.errors import NotFound, PermissionDenied, ScheduleOverlap, ValidationFailed
from core.scheduling import doctors
from tests.support import add_doctor


def test_overlapping_schedule_is_rejected(session, clinic_a):
    doctor = add_doctor(session, clinic_a)
    with pytest.raises(ScheduleOverlap):
        doctors.add_weekly_schedule(
            session,
            clinic_a.admin,
            doctor_id=doctor.id,
            branch_id=clinic_a.branch.id,
            weekdays=[2],
            start=dt.time(16),
            end=dt.time(19),
            slot_minutes=15,
        )


def test_adjacent_evening_window_is_allowed(session, clinic_a):
    doctor = add_doctor(session, clinic_a)
    rows = doctors.add_weekly_schedule(
        session,
        clinic_a.admin,
        doctor_id=doctor.id,
        branch_id=clinic_a.branch.id,
        weekdays=[0],
        start=dt.time(17),
        end=dt.time(20),
        slot_minutes=15,
    )
    assert len(rows) == 1


@pytest.mark.parametrize(
    ("start", "end", "slot", "breaks"),
    [
        (dt.time(10), dt.time(9), 15, []),
        (dt.time(9), dt.time(12), 45, []),
        (dt.time(9), dt.time(12), 15, [(dt.time(11), dt.time(13))]),
    ],
)
def test_bad_schedule_windows_are_rejected(session, clinic_a, start, end, slot, breaks):
    doctor = add_doctor(session, clinic_a, weekdays=(0,))
    with pytest.raises(ValidationFailed):
        doctors.add_weekly_schedule(
            session,
            clinic_a.admin,
            doctor_id=doctor.id,
            branch_id=clinic_a.branch.id,
            weekdays=[5],
            start=start,
            end=end,
            slot_minutes=slot,
            breaks=breaks,
        )


def test_receptionist_cannot_change_schedules(session, clinic_a):
    doctor = add_doctor(session, clinic_a)
    with pytest.raises(PermissionDenied):
        doctors.add_leave(
            session,
            clinic_a.receptionist,
            doctor_id=doctor.id,
            start_date=dt.date(2026, 12, 1),
            end_date=dt.date(2026, 12, 1),
        )


def test_outsider_cannot_see_or_schedule_a_doctor(session, clinic_a, clinic_b):
    doctor = add_doctor(session, clinic_a)
    with pytest.raises(NotFound):
        doctors.access_doctor(session, clinic_b.admin, doctor.id)
    with pytest.raises(NotFound):
        doctors.add_leave(
            session,
            clinic_b.admin,
            doctor_id=doctor.id,
            start_date=dt.date(2026, 12, 1),
            end_date=dt.date(2026, 12, 1),
        )
