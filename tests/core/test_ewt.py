"""Wait-time estimates from real queue history: rolling average, fallback, per-token ETAs."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from core.clock import FrozenClock
from core.errors import NotFound
from core.patients.phones import PhoneVault
from core.patients.registry import register_patient
from core.queue.calling import call_next
from core.queue.issuing import issue_token
from core.queue.lifecycle import finish_token, start_consultation
from core.queue.line import department_roster
from core.queue.place import queue_place
from core.queue.wait_estimate import doctor_queue_etas, estimate_wait
from db.models import DoctorSession
from tests.support import add_doctor

VAULT = PhoneVault("test-key")
NOW = dt.datetime(2026, 12, 7, 4, 0, tzinfo=dt.UTC)  # 09:30 in Kolkata, a Monday


def desk(clinic, clock):
    return dataclasses.replace(clinic.receptionist, clock=clock)


def patients(session, clinic, n):
    return [
        register_patient(session, clinic.system, vault=VAULT, full_name=f"Patient {i}").patient.id
        for i in range(n)
    ]


def issue(session, actor, clinic, patient_id, doctor):
    return issue_token(
        session,
        actor,
        patient_id=patient_id,
        department_id=clinic.department.id,
        kind="walk_in",
        doctor_id=doctor.id,
    )


def consult(session, actor, clock, doctor, minutes):
    """Call the next token, start it, and finish it ``minutes`` later."""
    called = call_next(session, actor, doctor_id=doctor.id)
    assert called is not None
    start_consultation(session, actor, token_id=called.id)
    clock.advance(minutes=minutes)
    finish_token(session, actor, token_id=called.id)
    clock.advance(minutes=1)


def average(session, clinic, doctor, clock):
    """The rolling average the engine uses for ``doctor`` on the clock's service day."""
    place = queue_place(session, clinic.tenant_id, clinic.department.id)
    day = place.service_date(clock())
    roster = department_roster(session, clinic.tenant_id, place, day, place.rules)
    return next(s.avg_minutes for s in roster if s.doctor_id == doctor.id)


def test_rolling_average_uses_the_last_five_consultations_finished_today(session, clinic_a):
    clock = FrozenClock(NOW - dt.timedelta(hours=3))
    doctor = add_doctor(session, clinic_a)
    actor = desk(clinic_a, clock)
    for p in patients(session, clinic_a, 6):
        issue(session, actor, clinic_a, p, doctor)
    for minutes in (100, 10, 20, 30, 40, 50):  # the oldest (100) falls out of the window
        consult(session, actor, clock, doctor, minutes)
    assert average(session, clinic_a, doctor, clock) == pytest.approx(30)


def test_an_earlier_days_consultations_do_not_count(session, clinic_a):
    clock = FrozenClock(NOW - dt.timedelta(days=3))  # the Friday before
    doctor = add_doctor(session, clinic_a, slot_minutes=20)
    actor = desk(clinic_a, clock)
    for p in patients(session, clinic_a, 2):
        issue(session, actor, clinic_a, p, doctor)
    for minutes in (50, 60):
        consult(session, actor, clock, doctor, minutes)
    assert average(session, clinic_a, doctor, FrozenClock(NOW)) == 20


def test_no_history_falls_back_to_slot_length(session, clinic_a):
    doctor = add_doctor(session, clinic_a, slot_minutes=20)
    assert average(session, clinic_a, doctor, FrozenClock(NOW)) == 20


def test_waiting_tokens_get_increasing_etas_matching_the_formula(session, clinic_a):
    clock = FrozenClock(NOW)
    doctor = add_doctor(session, clinic_a)
    actor = desk(clinic_a, clock)
    tokens = [issue(session, actor, clinic_a, p, doctor) for p in patients(session, clinic_a, 4)]
    consult(session, actor, clock, doctor, 24)  # history: one consultation of 24 min
    current = call_next(session, actor, doctor_id=doctor.id)
    assert current is not None
    start_consultation(session, actor, token_id=current.id)
    clock.advance(minutes=10)
    (late,) = patients(session, clinic_a, 1)
    waiting = [*tokens[2:], issue(session, actor, clinic_a, late, doctor)]
    etas = doctor_queue_etas(session, actor, doctor_id=doctor.id)
    assert [e.code for e in etas] == [t.code for t in waiting]
    assert [e.position for e in etas] == [1, 2, 3]
    assert [e.minutes for e in etas] == [14, 38, 62]  # 24 - 10 left, then + 24 per patient ahead
    for ahead, e in enumerate(etas):
        started = NOW + dt.timedelta(minutes=25)
        expected = estimate_wait(
            now=clock(), avg_minutes=24, current_started_at=started, ahead=ahead
        )
        assert (e.minutes, e.eta) == (expected.minutes, expected.eta)
    assert etas[0].eta < etas[1].eta < etas[2].eta


def test_todays_pause_and_delay_push_every_eta(session, clinic_a):
    clock = FrozenClock(NOW)
    doctor = add_doctor(session, clinic_a)
    actor = desk(clinic_a, clock)
    for p in patients(session, clinic_a, 2):
        issue(session, actor, clinic_a, p, doctor)
    session.add(
        DoctorSession(
            tenant_id=clinic_a.tenant_id,
            doctor_id=doctor.id,
            branch_id=clinic_a.branch.id,
            service_date=dt.date(2026, 12, 7),
            status="paused",
            paused_at=NOW - dt.timedelta(minutes=5),
            paused_until=NOW + dt.timedelta(minutes=10),
            delay_minutes=20,
            delay_until=NOW + dt.timedelta(minutes=20),
        )
    )
    session.flush()
    etas = doctor_queue_etas(session, actor, doctor_id=doctor.id)
    assert [e.minutes for e in etas] == [30, 60]  # 10 min of pause left + 20 delay, + 30 slot
    assert "pause 10 min left" in etas[0].explanation


def test_outsider_cannot_read_another_clinics_etas(session, clinic_a, clinic_b):
    doctor = add_doctor(session, clinic_a)
    with pytest.raises(NotFound):
        doctor_queue_etas(session, desk(clinic_b, FrozenClock(NOW)), doctor_id=doctor.id)
