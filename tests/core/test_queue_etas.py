"""ETAs stored on tokens after every queue event, and the WhatsApp intents they trigger."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from core.clock import FrozenClock
from core.queue.calling import call_next
from core.queue.doctor_day import pause_doctor, resume_doctor
from core.queue.issuing import issue_token
from core.queue.lifecycle import finish_token, start_consultation
from core.queue.wait_estimate import doctor_queue_etas
from db.models import OutboxMessage, QueueToken
from tests.support import add_doctor, at_desk, local, register_patients, set_queue_settings

MONDAY = dt.date(2026, 12, 7)
MIN = dt.timedelta(minutes=1)


@pytest.fixture
def clock(clinic_a):
    return FrozenClock(local(clinic_a, MONDAY, 9))


@pytest.fixture
def desk(clinic_a, clock):
    return at_desk(clinic_a, clock)


def issue(session, desk, clinic, patient_id, doctor=None):
    return issue_token(
        session,
        desk,
        patient_id=patient_id,
        department_id=clinic.department.id,
        kind="walk_in",
        doctor_id=doctor.id if doctor else None,
    )


def etas(session, token_ids):
    """(eta_at, notified_eta_at) of each token, fresh from the database."""
    session.expire_all()
    rows = dict(
        session.execute(
            select(QueueToken.id, QueueToken.eta_at).where(QueueToken.id.in_(token_ids))
        ).all()
    )
    told = dict(
        session.execute(
            select(QueueToken.id, QueueToken.notified_eta_at).where(QueueToken.id.in_(token_ids))
        ).all()
    )
    return [(rows[i], told[i]) for i in token_ids]


def outbox(session, clinic, kind):
    return session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.tenant_id == clinic.tenant_id, OutboxMessage.kind == kind)
        .order_by(OutboxMessage.id)
    ).all()


def shifts(session, clinic):
    return outbox(session, clinic, "whatsapp.eta_shift")


def near_turn_tokens(session, clinic):
    return [m.payload["token_id"] for m in outbox(session, clinic, "whatsapp.near_turn")]


# --- stored on issue --------------------------------------------------------------------------


def test_issue_stores_the_eta_and_counts_it_as_told(session, clinic_a, desk, clock):
    doctor = add_doctor(session, clinic_a)
    a, b = register_patients(session, clinic_a, 2)
    first = issue(session, desk, clinic_a, a, doctor)
    at = local(clinic_a, MONDAY, 9)
    assert (first.eta, first.position) == (at, 1)  # idle doctor: now
    assert etas(session, [first.id]) == [(at, at)]
    clock.advance(minutes=4)
    second = issue(session, desk, clinic_a, b, doctor)
    # 30-min slots, no history: from 09:04 the first is due now and the second a slot later;
    # the first one's 4-min move is stored but not worth telling the patient about
    later = at + 4 * MIN
    assert (second.eta, second.position) == (later + 30 * MIN, 2)
    assert etas(session, [first.id, second.id]) == [(later, at), (later + 30 * MIN,) * 2]
    assert shifts(session, clinic_a) == []  # the first estimate travels with the token


# --- overrun, pause and the shift threshold ---------------------------------------------------


def overrun_scene(session, clinic, desk, clock):
    """09:00 one patient goes in (30-min slots), one waits: told 09:30. Then the consultation
    runs on and other patients arrive at 09:40 and 09:50 (each arrival refreshes the ETAs)."""
    doctor = add_doctor(session, clinic)
    p1, p2, p3, p4 = register_patients(session, clinic, 4)
    issue(session, desk, clinic, p1, doctor)
    waiting = issue(session, desk, clinic, p2, doctor).id
    start_consultation(session, desk, token_id=call_next(session, desk, doctor_id=doctor.id).id)
    seen = {"09:00": etas(session, [waiting])}
    clock.at = local(clinic, MONDAY, 9, 40)
    later = issue(session, desk, clinic, p3, doctor).id  # due 09:40 + 30 = 10:10
    seen["09:40"] = etas(session, [waiting, later])
    clock.at = local(clinic, MONDAY, 9, 50)
    issue(session, desk, clinic, p4, doctor)
    seen["09:50"] = etas(session, [waiting, later])
    return waiting, later, seen


def test_overrun_moves_etas_and_only_a_shift_beyond_15_minutes_is_sent(
    session, clinic_a, desk, clock
):
    waiting, _later, seen = overrun_scene(session, clinic_a, desk, clock)
    t = {hhmm: local(clinic_a, MONDAY, *map(int, hhmm.split(":"))) for hhmm in seen}
    assert seen["09:00"] == [(t["09:00"] + 30 * MIN,) * 2]
    # 09:40: 10 min over; the ETA moves to now but 10 ≤ 15: stored, not told
    assert seen["09:40"][0] == (t["09:40"], t["09:00"] + 30 * MIN)
    # 09:50: now 20 min from what the patient was told: told (once); the 09:40 arrival moved
    # 10:10 → 10:20, only 10 min
    assert seen["09:50"] == [
        (t["09:50"], t["09:50"]),
        (t["09:50"] + 30 * MIN, t["09:40"] + 30 * MIN),
    ]
    (sent,) = shifts(session, clinic_a)
    assert sent.payload["token_id"] == waiting
    assert (sent.payload["eta_local"], sent.payload["previous_eta"]) == (
        "09:50",
        (t["09:00"] + 30 * MIN).isoformat(),
    )


def test_shift_threshold_is_a_clinic_setting(session, clinic_a, desk, clock):
    set_queue_settings(session, clinic_a, tenant={"eta_shift_minutes": 5})
    waiting, later, _seen = overrun_scene(session, clinic_a, desk, clock)
    told = [(m.payload["token_id"], m.payload["eta_local"]) for m in shifts(session, clinic_a)]
    # every 10-min move is now worth a message
    assert sorted(told) == sorted([(waiting, "09:40"), (waiting, "09:50"), (later, "10:20")])


def test_a_long_pause_sends_one_shift_per_waiting_token_a_short_one_none(
    session, clinic_a, desk, clock
):
    doctor = add_doctor(session, clinic_a)
    ids = [
        issue(session, desk, clinic_a, p, doctor).id
        for p in register_patients(session, clinic_a, 3)
    ]
    first_told = [told for _, told in etas(session, ids)]
    pause_doctor(session, desk, doctor_id=doctor.id, minutes=10)
    assert shifts(session, clinic_a) == []
    assert [told for _, told in etas(session, ids)] == first_told
    resume_doctor(session, desk, doctor_id=doctor.id)
    pause_doctor(session, desk, doctor_id=doctor.id, minutes=20)
    sent = shifts(session, clinic_a)
    assert sorted(m.payload["token_id"] for m in sent) == sorted(ids)
    assert etas(session, ids) == [(t + 20 * MIN, t + 20 * MIN) for t in first_told]
    resume_doctor(session, desk, doctor_id=doctor.id)  # back by 20: told again
    assert len(shifts(session, clinic_a)) == 6
    assert etas(session, ids) == [(t, t) for t in first_told]


def test_every_change_of_the_told_eta_sends_a_message(session, clinic_a, desk, clock):
    doctor = add_doctor(session, clinic_a)
    ids = [
        issue(session, desk, clinic_a, p, doctor).id
        for p in register_patients(session, clinic_a, 3)
    ]
    pause_doctor(session, desk, doctor_id=doctor.id, minutes=20)  # told +20
    resume_doctor(session, desk, doctor_id=doctor.id)  # told back
    pause_doctor(session, desk, doctor_id=doctor.id, minutes=20)  # told +20 again?
    told = [told for _, told in etas(session, ids)]
    last_message = {m.payload["token_id"]: m.payload["eta"] for m in shifts(session, clinic_a)}
    assert [last_message[i] for i in ids] == [t.isoformat() for t in told]


# --- near turn --------------------------------------------------------------------------------


def test_near_turn_is_sent_once_when_a_token_comes_within_three_places(
    session, clinic_a, desk, clock
):
    doctor = add_doctor(session, clinic_a)
    t = [
        issue(session, desk, clinic_a, p, doctor).id
        for p in register_patients(session, clinic_a, 5)
    ]
    assert near_turn_tokens(session, clinic_a) == t[:3]
    # a called patient still counts ahead until they walk in; then the line moves up one
    first = call_next(session, desk, doctor_id=doctor.id)
    assert near_turn_tokens(session, clinic_a) == t[:3]
    start_consultation(session, desk, token_id=first.id)
    assert near_turn_tokens(session, clinic_a) == t[:4]
    for _ in range(4):
        clock.advance(minutes=10)
        finish_token(session, desk, token_id=first.id)
        first = call_next(session, desk, doctor_id=doctor.id)
        start_consultation(session, desk, token_id=first.id)
    assert sorted(near_turn_tokens(session, clinic_a)) == t  # each exactly once


def test_near_turn_position_is_a_clinic_setting(session, clinic_a, desk):
    set_queue_settings(session, clinic_a, department={"near_turn_position": 1})
    doctor = add_doctor(session, clinic_a)
    t = [
        issue(session, desk, clinic_a, p, doctor).id
        for p in register_patients(session, clinic_a, 3)
    ]
    assert near_turn_tokens(session, clinic_a) == t[:1]


# --- a department pool ------------------------------------------------------------------------


def pool_of_four(session, clinic, desk, n_doctors):
    set_queue_settings(session, clinic, strategy="pool")
    doctors = [add_doctor(session, clinic, name=f"Dr. {i}") for i in range(n_doctors)]
    issued = [issue(session, desk, clinic, p) for p in register_patients(session, clinic, 4)]
    return doctors, issued


def test_pool_etas_alternate_between_doctors_and_beat_a_single_doctor(
    session, clinic_a, clinic_b, clock
):
    (d1, d2), two = pool_of_four(session, clinic_a, at_desk(clinic_a, clock), 2)
    (solo,), one = pool_of_four(session, clinic_b, at_desk(clinic_b, clock), 1)
    now = clock()
    # two idle doctors with 30-min slots: each takes the next token as they come free
    assert [t.doctor_id for t in two] == [d1.id, d2.id, d1.id, d2.id]
    assert [t.eta for t in two] == [now, now, now + 30 * MIN, now + 30 * MIN]
    assert [t.doctor_id for t in one] == [solo.id] * 4
    assert [t.eta for t in one] == [now + m * MIN for m in (0, 30, 60, 90)]
    assert [eta for eta, _ in etas(session, [t.id for t in two])] == [t.eta for t in two]
    assert all(a.eta <= b.eta for a, b in zip(two, one, strict=True))
    assert all(a.eta < b.eta for a, b in zip(two[1:], one[1:], strict=True))
    session.expire_all()
    assert {session.get(QueueToken, t.id).doctor_id for t in two} == {None}  # still the pool
    desk = at_desk(clinic_a, clock)
    assert [e.token_id for e in doctor_queue_etas(session, desk, doctor_id=d1.id)] == [
        two[0].id,
        two[2].id,
    ]
    assert [e.minutes for e in doctor_queue_etas(session, desk, doctor_id=d2.id)] == [0, 30]


# --- one estimate, whoever computes it --------------------------------------------------------


def test_stored_etas_are_the_ones_the_doctors_line_shows(session, clinic_a, desk, clock):
    doctor = add_doctor(session, clinic_a)  # 30-min slots
    clock.at = local(clinic_a, MONDAY, 7)
    early = register_patients(session, clinic_a, 5, "Early")
    for p in early:
        issue(session, desk, clinic_a, p, doctor)
    for _ in early:  # five 10-minute consultations, over by 07:50
        called = call_next(session, desk, doctor_id=doctor.id)
        start_consultation(session, desk, token_id=called.id)
        clock.advance(minutes=10)
        finish_token(session, desk, token_id=called.id)
    clock.at = local(clinic_a, MONDAY, 10)
    ids = [
        issue(session, desk, clinic_a, p, doctor).id
        for p in register_patients(session, clinic_a, 3)
    ]
    shown = {e.token_id: e.eta for e in doctor_queue_etas(session, desk, doctor_id=doctor.id)}
    assert [eta for eta, _ in etas(session, ids)] == [shown[i] for i in ids]
