"""The reception day board: free and booked rows per doctor, masked names, tenant walls."""

from __future__ import annotations

import dataclasses
import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, update

from core.clock import FrozenClock
from core.errors import NotFound, PermissionDenied
from core.patients import PhoneVault, register_patient
from core.patients.views import masked_name
from core.scheduling import doctors
from core.scheduling.booking import book_appointment, cancel_appointment
from core.scheduling.day_view import day_board, desk
from db.models import Appointment
from tests.support import add_doctor

IST = ZoneInfo("Asia/Kolkata")
MONDAY = dt.date(2026, 12, 7)
BEFORE = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
VAULT = PhoneVault("test-data-key")


def frozen(actor, when=BEFORE):
    return dataclasses.replace(actor, clock=FrozenClock(when))


def at(hour, minute=0, day=MONDAY):
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=IST)


def patient(session, clinic, name="Ravi Sharma"):
    return register_patient(
        session, clinic.receptionist, vault=VAULT, full_name=name, phone="98765 43210"
    ).patient


def book(session, clinic, doctor, who, when):
    return book_appointment(
        session, frozen(clinic.receptionist), doctor_id=doctor.id, patient_id=who.id,
        slot_start=when,
    )  # fmt: skip


def board(session, clinic, day=MONDAY, when=BEFORE, actor=None):
    actor = frozen(actor or clinic.receptionist, when)
    return day_board(session, actor, branch_id=clinic.branch.id, on_date=day)


def by_label(doctor_day):
    return {r.label: r for r in doctor_day.rows}


def test_board_shows_the_doctor_with_free_slots_and_the_masked_booking(session, clinic_a):
    doctor = add_doctor(session, clinic_a)
    ravi = patient(session, clinic_a)
    appt = book(session, clinic_a, doctor, ravi, at(10))
    result = board(session, clinic_a)
    (day,) = result.doctors
    assert (day.name, day.department, day.room, day.fee_minor) == (
        "Dr. Asha Rao", "General Medicine", "Room 1", 50000,
    )  # fmt: skip
    assert len(day.rows) == 14 and result.off_duty == ()
    row = by_label(day)["10:00"]
    assert (row.status, row.patient_code, row.patient_name, row.appointment_id) == (
        "scheduled", ravi.code, "Ravi S.", appt.id,
    )  # fmt: skip
    assert {r.status for r in day.rows if r.label != "10:00"} == {"free"}
    assert result.totals()["free"] == 13 and result.totals()["scheduled"] == 1
    assert result.branch_name == clinic_a.branch.name and result.timezone == "Asia/Kolkata"


def test_every_status_is_shown_and_cancelled_bookings_free_their_slot(session, clinic_a):
    doctor = add_doctor(session, clinic_a)
    statuses = ["scheduled", "checked_in", "in_consultation", "completed", "no_show"]
    hours = [9, 10, 11, 12, 14]
    for n, (status, hour) in enumerate(zip(statuses, hours, strict=True)):
        appt = book(session, clinic_a, doctor, patient(session, clinic_a, f"Patient {n} Kumar"),
                    at(hour))  # fmt: skip
        # No check-in/consultation commands exist yet; set the status as they will.
        session.execute(update(Appointment).where(Appointment.id == appt.id).values(status=status))
    gone = book(session, clinic_a, doctor, patient(session, clinic_a, "Gone Away"), at(15))
    cancel_appointment(session, frozen(clinic_a.receptionist), appointment_id=gone.id,
                       reason="Travelling")  # fmt: skip
    session.expire_all()
    rows = by_label(board(session, clinic_a).doctors[0])
    assert [rows[f"{h:02d}:00"].status for h in hours] == statuses
    assert rows["15:00"].status == "free" and rows["15:00"].patient_code is None


def test_a_slot_with_two_seats_shows_the_booking_and_the_seat_left(session, clinic_a):
    doctor = add_doctor(session, clinic_a, weekdays=(1,))
    doctors.add_weekly_schedule(
        session, clinic_a.admin, doctor_id=doctor.id, branch_id=clinic_a.branch.id, weekdays=[0],
        start=dt.time(9), end=dt.time(10), slot_minutes=30, capacity=2,
    )  # fmt: skip
    book(session, clinic_a, doctor, patient(session, clinic_a), at(9))
    rows = board(session, clinic_a).doctors[0].rows
    assert [(r.label, r.status, r.seats_left) for r in rows] == [
        ("09:00", "scheduled", 0), ("09:00", "free", 1), ("09:30", "free", 2),
    ]  # fmt: skip


def test_slots_that_already_started_are_marked_past(session, clinic_a):
    doctor = add_doctor(session, clinic_a)
    book(session, clinic_a, doctor, patient(session, clinic_a), at(12))
    day = board(session, clinic_a, when=at(11, 15)).doctors[0]
    past = [r.label for r in day.rows if r.past]
    assert past == ["09:00", "09:30", "10:00", "10:30", "11:00"]
    assert day.count("free") == 8 and day.count("scheduled") == 1


def test_doctors_on_leave_or_off_that_weekday_are_listed_off_duty(session, clinic_a):
    working = add_doctor(session, clinic_a, name="Dr. Working")
    away = add_doctor(session, clinic_a, name="Dr. Away")
    add_doctor(session, clinic_a, name="Dr. Weekends", weekdays=(5, 6))
    doctors.add_leave(session, clinic_a.admin, doctor_id=away.id, start_date=MONDAY,
                      end_date=MONDAY)  # fmt: skip
    result = board(session, clinic_a)
    assert [d.doctor_id for d in result.doctors] == [working.id]
    assert sorted(result.off_duty) == ["Dr. Away", "Dr. Weekends"]


def test_other_clinics_doctors_and_bookings_never_appear(session, clinic_a, clinic_b):
    add_doctor(session, clinic_a, name="Dr. Alpha")
    beta = add_doctor(session, clinic_b, name="Dr. Beta")
    book(session, clinic_b, beta, patient(session, clinic_b, "Bob Outsider"), at(10))
    result = board(session, clinic_a)
    assert [d.name for d in result.doctors] == ["Dr. Alpha"]
    assert all(r.status == "free" for r in result.doctors[0].rows)


def test_outsider_gets_not_found_and_lab_may_not_read_the_board(session, clinic_a, clinic_b):
    add_doctor(session, clinic_a)
    with pytest.raises(NotFound):
        day_board(session, frozen(clinic_b.receptionist), branch_id=clinic_a.branch.id,
                  on_date=MONDAY)  # fmt: skip
    with pytest.raises(PermissionDenied):
        board(session, clinic_a, actor=clinic_a.lab)


@pytest.fixture
def count_queries(db):
    seen = []

    def counter(*_args):
        seen.append(1)

    event.listen(db.engine, "before_cursor_execute", counter)
    yield seen
    event.remove(db.engine, "before_cursor_execute", counter)


def test_queries_grow_per_doctor_not_per_booking(session, clinic_a, count_queries):
    first = add_doctor(session, clinic_a, name="Dr. First")
    book(session, clinic_a, first, patient(session, clinic_a, "Asha One"), at(9))
    board(session, clinic_a)  # warm the identity map
    count_queries.clear()
    board(session, clinic_a)
    one_booking = len(count_queries)
    for n, hour in enumerate((10, 11, 12, 14, 15)):
        book(session, clinic_a, first, patient(session, clinic_a, f"Extra {n} Patient"), at(hour))
    count_queries.clear()
    board(session, clinic_a)
    assert len(count_queries) == one_booking
    add_doctor(session, clinic_a, name="Dr. Second")
    board(session, clinic_a)
    count_queries.clear()
    board(session, clinic_a)
    assert len(count_queries) - one_booking <= 6
    assert one_booking <= 12


def test_desk_names_the_clinic_user_and_local_today(session, clinic_a):
    late_evening_utc = dt.datetime(2026, 12, 6, 20, 0, tzinfo=dt.UTC)  # 01:30 on the 7th in IST
    info = desk(session, frozen(clinic_a.receptionist, late_evening_utc))
    assert info.clinic_name == clinic_a.tenant.name
    assert info.user_name == "Receptionist of clinic-a"
    assert (info.today, info.timezone) == (MONDAY, "Asia/Kolkata")
    assert info.home_branch_id == clinic_a.branch.id
    assert [b.name for b in info.branches] == [clinic_a.branch.name]


@pytest.mark.parametrize(
    ("full", "shown"),
    [("Ravi Sharma", "Ravi S."), ("Ravi Kumar sharma", "Ravi S."), ("Madonna", "Madonna"),
     ("  Anil   Verma ", "Anil V."), ("", "")],
)  # fmt: skip
def test_masked_name_keeps_first_name_and_last_initial(full, shown):
    assert masked_name(full) == shown
