"""Appointment statuses follow the visit: checked in with the token, completed with it, no-show
at day end, each moved by core in the transaction of the queue change."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from core.clock import FrozenClock
from core.errors import Conflict
from core.queue.calling import call_next
from core.queue.expiry import expire_past_days
from core.queue.issuing import issue_token
from core.queue.lifecycle import finish_token, start_consultation
from core.scheduling import attendance
from core.scheduling.booking import book_appointment, cancel_appointment
from db.models import Appointment, QueueToken
from tests.support import add_doctor, at_desk, local, register_patients

MONDAY = dt.date(2026, 12, 7)
TUESDAY = dt.date(2026, 12, 8)


@pytest.fixture
def clock(clinic_a):
    return FrozenClock(local(clinic_a, MONDAY, 8))


@pytest.fixture
def desk(clinic_a, clock):
    return at_desk(clinic_a, clock)


@pytest.fixture
def doctor(session, clinic_a):
    return add_doctor(session, clinic_a, name="Dr. Asha Rao")


def book(session, desk, clinic, doctor, patient_id, day, hour, minute=0):
    return book_appointment(
        session,
        desk,
        doctor_id=doctor.id,
        patient_id=patient_id,
        slot_start=local(clinic, day, hour, minute),
    ).id


def check_in(session, desk, clinic, doctor, patient_id, appointment_id):
    return issue_token(
        session,
        desk,
        patient_id=patient_id,
        department_id=clinic.department.id,
        kind="booked",
        doctor_id=doctor.id,
        appointment_id=appointment_id,
    )


def appt(session, appointment_id):
    session.expire_all()
    row = session.get(Appointment, appointment_id)
    assert row is not None
    return row


def test_check_in_start_and_finish_move_the_appointment_with_its_token(
    session, clinic_a, desk, clock, doctor
):
    (patient,) = register_patients(session, clinic_a, 1)
    appointment_id = book(session, desk, clinic_a, doctor, patient, MONDAY, 9)
    assert appt(session, appointment_id).status == "scheduled"

    clock.at = local(clinic_a, MONDAY, 8, 50)
    token = check_in(session, desk, clinic_a, doctor, patient, appointment_id)
    row = appt(session, appointment_id)
    assert (row.status, row.checked_in_at) == ("checked_in", clock())
    again = check_in(session, desk, clinic_a, doctor, patient, appointment_id)
    assert (again.id, again.created) == (token.id, False)
    assert appt(session, appointment_id).checked_in_at == local(clinic_a, MONDAY, 8, 50)

    clock.advance(minutes=10)
    assert call_next(session, desk, doctor_id=doctor.id).id == token.id
    start_consultation(session, desk, token_id=token.id)
    row = appt(session, appointment_id)
    assert (row.status, row.started_at) == ("in_consultation", clock())
    clock.advance(minutes=12)
    finish_token(session, desk, token_id=token.id)
    row = appt(session, appointment_id)
    assert (row.status, row.completed_at) == ("completed", clock())


def test_walk_in_tokens_touch_no_appointment(session, clinic_a, desk, doctor):
    booked, walk_in = register_patients(session, clinic_a, 2)
    appointment_id = book(session, desk, clinic_a, doctor, booked, MONDAY, 9)
    token = issue_token(
        session,
        desk,
        patient_id=walk_in,
        department_id=clinic_a.department.id,
        kind="walk_in",
        doctor_id=doctor.id,
    )
    call_next(session, desk, doctor_id=doctor.id)
    start_consultation(session, desk, token_id=token.id)
    finish_token(session, desk, token_id=token.id)
    assert appt(session, appointment_id).status == "scheduled"


def test_a_cancelled_appointment_cannot_be_checked_in_and_nothing_is_written(
    session, clinic_a, desk, doctor
):
    (patient,) = register_patients(session, clinic_a, 1)
    appointment_id = book(session, desk, clinic_a, doctor, patient, MONDAY, 9)
    cancel_appointment(session, desk, appointment_id=appointment_id, reason="Patient called")
    with pytest.raises(Conflict, match="cancelled"):
        check_in(session, desk, clinic_a, doctor, patient, appointment_id)
    tokens = select(QueueToken.id).where(QueueToken.tenant_id == clinic_a.tenant_id)
    assert session.scalars(tokens).all() == []
    assert appt(session, appointment_id).status == "cancelled"


def test_day_end_marks_appointments_never_checked_in_as_no_show_in_batches_once(
    session, clinic_a, desk, clock, doctor, monkeypatch
):
    monkeypatch.setattr(attendance, "BATCH", 2)  # several batches with a handful of rows
    names = ["came", "done", "absent1", "absent2", "absent3", "cancelled", "tomorrow"]
    p = dict(zip(names, register_patients(session, clinic_a, len(names)), strict=True))
    hours = (9, 10, 11, 12, 14, 15)  # lunch is 13:00-14:00
    a = {
        name: book(session, desk, clinic_a, doctor, p[name], MONDAY, h)
        for name, h in zip(names, hours, strict=False)
    }
    a["tomorrow"] = book(session, desk, clinic_a, doctor, p["tomorrow"], TUESDAY, 10)
    cancel_appointment(session, desk, appointment_id=a["cancelled"], reason="Patient called")
    clock.at = local(clinic_a, MONDAY, 9)
    came = check_in(session, desk, clinic_a, doctor, p["came"], a["came"])
    done = check_in(session, desk, clinic_a, doctor, p["done"], a["done"])
    assert call_next(session, desk, doctor_id=doctor.id).id == came.id
    clock.advance(minutes=20)
    start_consultation(session, desk, token_id=came.id)
    finish_token(session, desk, token_id=came.id)
    assert call_next(session, desk, doctor_id=doctor.id).id == done.id
    start_consultation(session, desk, token_id=done.id)
    finish_token(session, desk, token_id=done.id)

    clock.at = local(clinic_a, MONDAY, 23, 59)  # the day is not over yet on the branch's clock
    assert expire_past_days(session, desk).no_shows == 0
    clock.at = local(clinic_a, TUESDAY, 0, 5)
    report = expire_past_days(session, desk)
    assert report.no_shows == 3
    statuses = {name: appt(session, i).status for name, i in a.items()}
    assert statuses == {
        "came": "completed",
        "done": "completed",
        "absent1": "no_show",
        "absent2": "no_show",
        "absent3": "no_show",
        "cancelled": "cancelled",
        "tomorrow": "scheduled",
    }
    assert appt(session, a["absent1"]).updated_at == clock()
    assert expire_past_days(session, desk).no_shows == 0


def test_a_checked_in_patient_whose_token_expired_is_not_a_no_show(
    session, clinic_a, desk, clock, doctor
):
    (patient,) = register_patients(session, clinic_a, 1)
    appointment_id = book(session, desk, clinic_a, doctor, patient, MONDAY, 9)
    clock.at = local(clinic_a, MONDAY, 9)
    check_in(session, desk, clinic_a, doctor, patient, appointment_id)
    clock.at = local(clinic_a, TUESDAY, 0, 5)
    report = expire_past_days(session, desk)
    assert (report.tokens, report.no_shows) == (1, 0)
    assert appt(session, appointment_id).status == "checked_in"
