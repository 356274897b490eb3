"""Token lifecycle and the doctor's day: lab, transfer, recall, pause, delay, expiry, events."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from core import tenancy
from core.clock import FrozenClock
from core.errors import Conflict, NotFound, ValidationFailed
from core.queue.calling import call_next
from core.queue.doctor_day import announce_delay, pause_doctor, resume_doctor
from core.queue.expiry import expire_past_days
from core.queue.issuing import issue_token
from core.queue.lifecycle import (
    cancel_token,
    finish_token,
    mark_missed,
    recall_token,
    return_from_lab,
    send_to_lab,
    start_consultation,
    transfer_token,
)
from core.queue.wait_estimate import doctor_queue_etas
from db.models import DoctorSession, OutboxMessage, QueueEvent, QueueToken
from tests.support import (
    add_doctor,
    add_doctor_in,
    at_desk,
    local,
    register_patients,
    set_queue_settings,
)

MONDAY = dt.date(2026, 12, 7)
TUESDAY = dt.date(2026, 12, 8)


@pytest.fixture
def clock(clinic_a):
    return FrozenClock(local(clinic_a, MONDAY, 9))


@pytest.fixture
def desk(clinic_a, clock):
    return at_desk(clinic_a, clock)


@pytest.fixture
def doctor(session, clinic_a):
    return add_doctor(session, clinic_a, name="Dr. Asha Rao")


@pytest.fixture
def other_doctor(session, clinic_a):
    return add_doctor(session, clinic_a, name="Dr. Vikram Sen")


def issue(session, desk, clinic, patient_id, doctor, kind="walk_in"):
    return issue_token(
        session,
        desk,
        patient_id=patient_id,
        department_id=clinic.department.id,
        kind=kind,
        doctor_id=doctor.id,
    )


def token(session, token_id):
    session.expire_all()
    return session.get(QueueToken, token_id)


def row(session, token_id):
    t = token(session, token_id)
    return {c.key: getattr(t, c.key) for c in QueueToken.__mapper__.column_attrs}


def events(session, clinic, **where):
    stmt = select(QueueEvent).where(QueueEvent.tenant_id == clinic.tenant_id)
    for name, value in where.items():
        stmt = stmt.where(getattr(QueueEvent, name) == value)
    return session.scalars(stmt.order_by(QueueEvent.id)).all()


def event_types(session, clinic, token_id):
    return [e.type for e in events(session, clinic, token_id=token_id)]


def intents(session, clinic, kind):
    return session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.tenant_id == clinic.tenant_id, OutboxMessage.kind == kind)
        .order_by(OutboxMessage.id)
    ).all()


def snapshot(session, clinic):
    """Row counts of everything a queue command writes, and every token of the clinic."""
    session.expire_all()
    counts = {
        model.__name__: session.scalar(
            select(func.count()).select_from(model).where(model.tenant_id == clinic.tenant_id)
        )
        for model in (QueueToken, QueueEvent, OutboxMessage, DoctorSession)
    }
    tokens = session.scalars(
        select(QueueToken).where(QueueToken.tenant_id == clinic.tenant_id).order_by(QueueToken.id)
    ).all()
    return counts, [
        {c.key: getattr(t, c.key) for c in QueueToken.__mapper__.column_attrs} for t in tokens
    ]


def stored_etas(session, token_ids):
    return [token(session, i).eta_at for i in token_ids]


# --- lab round-trip ---------------------------------------------------------------------------


def test_lab_round_trip_keeps_the_token_and_returns_it_as_lab_return(
    session, clinic_a, desk, clock, doctor
):
    me, w1, w2 = register_patients(session, clinic_a, 3)
    t = issue(session, desk, clinic_a, me, doctor)
    clock.advance(minutes=2)
    first = issue(session, desk, clinic_a, w1, doctor)
    clock.advance(minutes=1)
    later = issue(session, desk, clinic_a, w2, doctor)
    clock.advance(minutes=2)
    assert call_next(session, desk, doctor_id=doctor.id).id == t.id
    start_consultation(session, desk, token_id=t.id)
    clock.advance(minutes=5)
    assert send_to_lab(session, desk, token_id=t.id).status == "at_lab"
    assert call_next(session, desk, doctor_id=doctor.id).id == first.id  # not the lab patient
    clock.advance(minutes=30)
    back = return_from_lab(session, desk, token_id=t.id)
    assert (back.id, back.code, back.status) == (t.id, t.code, "waiting")
    stored = token(session, t.id)
    assert (stored.kind, stored.called_at, stored.started_at) == ("lab_return", None, None)
    # lab_return 30 + 40 min since issue = 70 against the walk-in's 37
    assert call_next(session, desk, doctor_id=doctor.id).id == t.id
    assert call_next(session, desk, doctor_id=doctor.id).id == later.id
    assert event_types(session, clinic_a, t.id) == [
        "TokenIssued",
        "TokenCalled",
        "TokenStarted",
        "TokenSentToLab",
        "TokenReturnedFromLab",
        "TokenCalled",
    ]


def test_lab_return_is_subject_to_the_priority_cap(session, clinic_a, desk, clock, doctor):
    me, walker, vip = register_patients(session, clinic_a, 3)
    t = issue(session, desk, clinic_a, me, doctor)
    clock.advance(minutes=3)
    walk_in = issue(session, desk, clinic_a, walker, doctor)
    clock.advance(minutes=2)
    call_next(session, desk, doctor_id=doctor.id)
    start_consultation(session, desk, token_id=t.id)
    send_to_lab(session, desk, token_id=t.id)
    clock.advance(minutes=25)
    v = issue(session, desk, clinic_a, vip, doctor, "vip")
    clock.advance(minutes=5)
    assert call_next(session, desk, doctor_id=doctor.id).id == v.id  # 30 + 5 > 32
    clock.advance(minutes=5)
    return_from_lab(session, desk, token_id=t.id)
    clock.advance(minutes=1)
    # lab_return scores 30 + 41 = 71 > walk-in 38, but a VIP was the last call: cap 1 in 3
    assert call_next(session, desk, doctor_id=doctor.id).id == walk_in.id
    clock.advance(minutes=1)
    assert call_next(session, desk, doctor_id=doctor.id).id == t.id


def test_only_a_patient_in_consultation_can_go_to_the_lab(session, clinic_a, desk, doctor):
    (p,) = register_patients(session, clinic_a, 1)
    t = issue(session, desk, clinic_a, p, doctor)
    with pytest.raises(Conflict, match="is waiting; it cannot be sent to the lab now"):
        send_to_lab(session, desk, token_id=t.id)
    with pytest.raises(Conflict, match="Token GEN-001 is already waiting"):
        return_from_lab(session, desk, token_id=t.id)


# --- transfer ---------------------------------------------------------------------------------


def test_transfer_moves_a_waiting_token_keeping_code_and_place_in_time(
    session, clinic_a, desk, clock, doctor, other_doctor
):
    mine, theirs = register_patients(session, clinic_a, 2)
    t = issue(session, desk, clinic_a, mine, doctor)
    clock.advance(minutes=10)
    their_walk_in = issue(session, desk, clinic_a, theirs, other_doctor)
    before = row(session, t.id)
    clock.advance(minutes=5)
    moved = transfer_token(
        session, desk, token_id=t.id, to_doctor_id=other_doctor.id, reason="ortho consult"
    )
    assert (moved.id, moved.code, moved.status) == (t.id, t.code, "waiting")
    after = row(session, t.id)
    assert after["doctor_id"] == other_doctor.id
    assert after["queue_key"] == f"doctor:{other_doctor.id}"
    for kept in ("code", "number", "issued_at", "kind", "patient_id", "department_id"):
        assert after[kept] == before[kept]
    (event,) = events(session, clinic_a, type="TokenTransferred")
    assert (event.token_id, event.doctor_id) == (t.id, other_doctor.id)
    assert event.payload["from_doctor_id"] == doctor.id
    assert event.payload["to_doctor_id"] == other_doctor.id
    assert event.payload["reason"] == "ortho consult"
    assert call_next(session, desk, doctor_id=doctor.id) is None
    # it waited 15 min against the other doctor's own walk-in's 5: first in the new line
    assert call_next(session, desk, doctor_id=other_doctor.id).id == t.id
    assert call_next(session, desk, doctor_id=other_doctor.id).id == their_walk_in.id


def test_transfer_to_a_bad_target_is_refused_and_nothing_is_written(
    session, clinic_a, desk, doctor, other_doctor
):
    north = tenancy.create_branch(session, clinic_a.system, slug="north", name="North")
    north_dept = tenancy.create_department(
        session, clinic_a.system, branch_id=north.id, code="GEN", name="General North"
    )
    far_away = add_doctor_in(session, clinic_a, north_dept, name="Dr. 9")
    other_doctor.active = False  # left the clinic (admin action)
    session.flush()
    (p,) = register_patients(session, clinic_a, 1)
    t = issue(session, desk, clinic_a, p, doctor)
    before = snapshot(session, clinic_a)
    for target, message in [
        (doctor.id, "already with that doctor"),
        (other_doctor.id, "no longer active"),
        (far_away.id, "another branch"),
    ]:
        with pytest.raises(ValidationFailed, match=message) as err:
            transfer_token(session, desk, token_id=t.id, to_doctor_id=target)
        assert err.value.field == "to_doctor_id"
    with pytest.raises(NotFound):
        transfer_token(session, desk, token_id=t.id, to_doctor_id=999_999)
    assert snapshot(session, clinic_a) == before


def test_transfer_to_a_doctor_the_patient_already_waits_for_is_a_conflict(
    session, clinic_a, desk, doctor, other_doctor
):
    (p,) = register_patients(session, clinic_a, 1)
    t = issue(session, desk, clinic_a, p, doctor)
    issue(session, desk, clinic_a, p, other_doctor)  # another queue: allowed
    before = snapshot(session, clinic_a)
    with pytest.raises(Conflict, match="already holds a token"):
        transfer_token(session, desk, token_id=t.id, to_doctor_id=other_doctor.id)
    assert snapshot(session, clinic_a) == before


def test_transfer_to_the_doctor_holding_the_patients_allocated_token_is_a_conflict(
    session, clinic_a, desk, doctor, other_doctor
):
    set_queue_settings(session, clinic_a, strategy="round_robin")
    p, filler = register_patients(session, clinic_a, 2)
    dept = clinic_a.department.id
    issue_token(session, desk, patient_id=filler, department_id=dept, kind="walk_in")
    allocated = issue_token(session, desk, patient_id=p, department_id=dept, kind="walk_in")
    assert token(session, allocated.id).doctor_id == other_doctor.id  # round robin's turn
    # asking for the department again returns the token the patient already holds there
    again = issue_token(session, desk, patient_id=p, department_id=dept, kind="walk_in")
    assert (again.id, again.created) == (allocated.id, False)
    mine = issue(session, desk, clinic_a, p, doctor)  # a named token with the other doctor
    before = snapshot(session, clinic_a)
    with pytest.raises(Conflict, match="already holds a token"):
        transfer_token(session, desk, token_id=mine.id, to_doctor_id=other_doctor.id)
    assert snapshot(session, clinic_a) == before


def test_token_in_consultation_cannot_be_transferred_or_cancelled(
    session, clinic_a, desk, doctor, other_doctor
):
    (p,) = register_patients(session, clinic_a, 1)
    t = issue(session, desk, clinic_a, p, doctor)
    call_next(session, desk, doctor_id=doctor.id)
    start_consultation(session, desk, token_id=t.id)
    before = snapshot(session, clinic_a)
    with pytest.raises(Conflict, match="in consultation; it cannot be transferred now"):
        transfer_token(session, desk, token_id=t.id, to_doctor_id=other_doctor.id)
    with pytest.raises(Conflict, match="in consultation; it cannot be cancelled now"):
        cancel_token(session, desk, token_id=t.id)
    assert snapshot(session, clinic_a) == before


# --- missed and recalled ----------------------------------------------------------------------


def test_missed_token_recalled_is_callable_again_with_its_place_in_time(
    session, clinic_a, desk, clock, doctor
):
    a, b, c = register_patients(session, clinic_a, 3)
    first = issue(session, desk, clinic_a, a, doctor)
    clock.advance(minutes=5)
    second = issue(session, desk, clinic_a, b, doctor)
    clock.advance(minutes=5)
    assert call_next(session, desk, doctor_id=doctor.id).id == first.id
    clock.advance(minutes=2)
    mark_missed(session, desk, token_id=first.id)
    with pytest.raises(Conflict, match="is missed; it cannot be started now"):
        start_consultation(session, desk, token_id=first.id)
    clock.advance(minutes=3)
    third = issue(session, desk, clinic_a, c, doctor)
    clock.advance(minutes=5)
    assert recall_token(session, desk, token_id=first.id).recall_count == 1
    with pytest.raises(Conflict, match="Token GEN-001 is already waiting"):
        recall_token(session, desk, token_id=first.id)
    order = [call_next(session, desk, doctor_id=doctor.id) for _ in range(3)]
    assert [t.id for t in order] == [first.id, second.id, third.id]
    assert order[0].recall_count == 1


def test_missed_token_of_a_past_day_cannot_be_recalled(session, clinic_a, desk, clock, doctor):
    (p,) = register_patients(session, clinic_a, 1)
    t = issue(session, desk, clinic_a, p, doctor)
    call_next(session, desk, doctor_id=doctor.id)
    mark_missed(session, desk, token_id=t.id)
    clock.at = local(clinic_a, TUESDAY, 9)
    with pytest.raises(Conflict):
        recall_token(session, desk, token_id=t.id)


# --- pause, resume and delay ------------------------------------------------------------------


def three_waiting(session, clinic, desk, doctor):
    """Three walk-ins for an idle doctor (30-min slots): ETAs now, +30 and +60 minutes."""
    return [
        issue(session, desk, clinic, p, doctor).id for p in register_patients(session, clinic, 3)
    ]


def test_pause_pushes_every_eta_by_its_length_and_resume_brings_them_back(
    session, clinic_a, desk, clock, doctor
):
    ids = three_waiting(session, clinic_a, desk, doctor)
    now = clock()
    base = [now, now + dt.timedelta(minutes=30), now + dt.timedelta(minutes=60)]
    assert stored_etas(session, ids) == base
    paused = pause_doctor(session, desk, doctor_id=doctor.id, minutes=20, reason="ward round")
    assert (paused.status, paused.paused_until) == ("paused", now + dt.timedelta(minutes=20))
    assert stored_etas(session, ids) == [e + dt.timedelta(minutes=20) for e in base]
    etas = doctor_queue_etas(session, desk, doctor_id=doctor.id)
    assert [e.minutes for e in etas] == [20, 50, 80]
    assert "pause 20 min left" in etas[0].explanation
    resumed = resume_doctor(session, desk, doctor_id=doctor.id)
    assert (resumed.status, resumed.paused_until) == ("active", None)
    assert stored_etas(session, ids) == base
    day_events = events(session, clinic_a, token_id=None)
    assert [(e.type, e.doctor_id, e.payload) for e in day_events] == [
        ("DoctorPaused", doctor.id, {"minutes": 20}),
        ("DoctorResumed", doctor.id, {"paused_minutes": 0}),
    ]


def test_resuming_early_counts_the_minutes_paused_and_moves_etas_to_now(
    session, clinic_a, desk, clock, doctor
):
    ids = three_waiting(session, clinic_a, desk, doctor)
    pause_doctor(session, desk, doctor_id=doctor.id, minutes=30)
    clock.advance(minutes=10)
    resume_doctor(session, desk, doctor_id=doctor.id)
    now = clock()
    assert stored_etas(session, ids) == [now + dt.timedelta(minutes=m) for m in (0, 30, 60)]
    sessions = session.scalars(
        select(DoctorSession).where(DoctorSession.tenant_id == clinic_a.tenant_id)
    ).all()
    assert [(s.status, s.paused_minutes) for s in sessions] == [("active", 10)]


def test_a_paused_doctor_who_calls_next_is_back(session, clinic_a, desk, clock, doctor):
    ids = three_waiting(session, clinic_a, desk, doctor)
    pause_doctor(session, desk, doctor_id=doctor.id, minutes=20)
    clock.advance(minutes=5)
    called = call_next(session, desk, doctor_id=doctor.id)
    assert called is not None and called.id == ids[0]
    sessions = session.scalars(
        select(DoctorSession).where(DoctorSession.tenant_id == clinic_a.tenant_id)
    ).all()
    assert [(s.status, s.paused_until, s.paused_minutes) for s in sessions] == [("active", None, 5)]
    types = [e.type for e in events(session, clinic_a) if e.type != "TokenIssued"]
    assert types == ["DoctorPaused", "DoctorResumed", "TokenCalled"]
    # the rest of the line no longer waits for the pause: next after one consultation
    assert [e.minutes for e in doctor_queue_etas(session, desk, doctor_id=doctor.id)] == [30, 60]


def test_pause_without_minutes_uses_the_clinics_default(session, clinic_a, desk, clock, doctor):
    set_queue_settings(session, clinic_a, department={"default_pause_minutes": 25})
    assert pause_doctor(session, desk, doctor_id=doctor.id).paused_until == clock() + dt.timedelta(
        minutes=25
    )


def test_pause_twice_resume_unpaused_and_bad_lengths_change_nothing(
    session, clinic_a, desk, doctor
):
    three_waiting(session, clinic_a, desk, doctor)
    with pytest.raises(Conflict, match="not paused"):
        resume_doctor(session, desk, doctor_id=doctor.id)
    pause_doctor(session, desk, doctor_id=doctor.id, minutes=10)
    before = snapshot(session, clinic_a)
    with pytest.raises(Conflict, match="already paused"):
        pause_doctor(session, desk, doctor_id=doctor.id, minutes=10)
    for minutes in (0, -5, 241, 999):
        with pytest.raises(ValidationFailed) as err:
            pause_doctor(session, desk, doctor_id=doctor.id, minutes=minutes)
        assert err.value.field == "minutes"
    for minutes in (-1, 361):
        with pytest.raises(ValidationFailed):
            announce_delay(session, desk, doctor_id=doctor.id, minutes=minutes)
    assert snapshot(session, clinic_a) == before


def test_delay_tells_each_waiting_patient_of_that_doctor_and_pushes_their_etas(
    session, clinic_a, desk, clock, doctor, other_doctor
):
    mine = three_waiting(session, clinic_a, desk, doctor)
    (theirs,) = register_patients(session, clinic_a, 1, "Other")
    other = issue(session, desk, clinic_a, theirs, other_doctor).id
    base, other_base = stored_etas(session, mine), stored_etas(session, [other])
    day = announce_delay(session, desk, doctor_id=doctor.id, minutes=20, reason="  stuck  in OT ")
    assert (day.delay_minutes, day.notified) == (20, 3)
    sent = intents(session, clinic_a, "whatsapp.delay")
    assert sorted(m.payload["token_id"] for m in sent) == sorted(mine)
    assert {(m.payload["minutes"], m.payload["reason"]) for m in sent} == {(20, "stuck in OT")}
    assert stored_etas(session, mine) == [e + dt.timedelta(minutes=20) for e in base]
    assert stored_etas(session, [other]) == other_base
    (event,) = events(session, clinic_a, type="DelayAnnounced")
    assert (event.doctor_id, event.payload["minutes"]) == (doctor.id, 20)
    clock.advance(minutes=1)
    cleared = announce_delay(session, desk, doctor_id=doctor.id, minutes=0)
    assert (cleared.delay_minutes, cleared.delay_until, cleared.notified) == (0, None, 0)
    assert len(intents(session, clinic_a, "whatsapp.delay")) == 3  # no new messages
    now = clock()
    assert stored_etas(session, mine) == [now + dt.timedelta(minutes=m) for m in (0, 30, 60)]


# --- end of day -------------------------------------------------------------------------------


def test_expiry_ends_yesterdays_active_tokens_and_sessions_and_is_idempotent(
    session, clinic_a, desk, clock, doctor
):
    names = ["lab", "consult", "called", "done", "missed", "waiting", "cancelled", "today"]
    p = dict(zip(names, register_patients(session, clinic_a, len(names)), strict=True))
    t = {}
    for name in ("lab", "consult", "called", "done", "missed"):
        t[name] = issue(session, desk, clinic_a, p[name], doctor).id
        clock.advance(minutes=1)
    for name in ("lab", "consult", "called", "done", "missed"):
        assert call_next(session, desk, doctor_id=doctor.id).id == t[name]
        clock.advance(minutes=1)
    for name in ("lab", "consult", "done"):
        start_consultation(session, desk, token_id=t[name])
    send_to_lab(session, desk, token_id=t["lab"])
    finish_token(session, desk, token_id=t["done"])
    mark_missed(session, desk, token_id=t["missed"])
    t["waiting"] = issue(session, desk, clinic_a, p["waiting"], doctor).id
    t["cancelled"] = issue(session, desk, clinic_a, p["cancelled"], doctor).id
    cancel_token(session, desk, token_id=t["cancelled"])
    pause_doctor(session, desk, doctor_id=doctor.id, minutes=30)  # Monday's session, left open

    clock.at = local(clinic_a, TUESDAY, 0, 5)  # just after midnight on the branch's clock
    t["today"] = issue(session, desk, clinic_a, p["today"], doctor).id
    report = expire_past_days(session, desk)
    assert (report.tokens, report.sessions) == (4, 1)
    statuses = {name: token(session, i).status for name, i in t.items()}
    assert statuses == {
        "lab": "expired",
        "consult": "expired",
        "called": "expired",
        "waiting": "expired",
        "done": "done",
        "missed": "missed",
        "cancelled": "cancelled",
        "today": "waiting",
    }
    expired = events(session, clinic_a, type="TokenExpired")
    assert sorted(e.token_id for e in expired) == sorted(
        t[n] for n in ("lab", "consult", "called", "waiting")
    )
    assert all(e.created_at == clock() and e.actor_id == desk.user_id for e in expired)
    assert all(e.doctor_id == doctor.id for e in expired)
    monday = session.scalars(
        select(DoctorSession.status).where(
            DoctorSession.tenant_id == clinic_a.tenant_id,
            DoctorSession.service_date == MONDAY,
        )
    ).all()
    assert monday == ["closed"]
    before = snapshot(session, clinic_a)
    again = expire_past_days(session, desk)
    assert (again.tokens, again.sessions) == (0, 0)
    assert snapshot(session, clinic_a) == before


def test_expiry_leaves_the_whole_of_today_alone(session, clinic_a, desk, clock, doctor):
    ids = three_waiting(session, clinic_a, desk, doctor)
    clock.at = local(clinic_a, MONDAY, 23, 59)
    assert expire_past_days(session, desk).tokens == 0
    assert {token(session, i).status for i in ids} == {"waiting"}


# --- events -----------------------------------------------------------------------------------


def test_every_transition_appends_one_complete_event(
    session, clinic_a, desk, clock, doctor, other_doctor
):
    p, q = register_patients(session, clinic_a, 2)
    steps = [
        ("TokenIssued", lambda: issue(session, desk, clinic_a, p, doctor)),
        ("TokenCalled", lambda: call_next(session, desk, doctor_id=doctor.id)),
        ("TokenStarted", lambda: start_consultation(session, desk, token_id=tid)),
        ("TokenSentToLab", lambda: send_to_lab(session, desk, token_id=tid)),
        ("TokenReturnedFromLab", lambda: return_from_lab(session, desk, token_id=tid)),
        ("TokenCalled", lambda: call_next(session, desk, doctor_id=doctor.id)),
        ("TokenMissed", lambda: mark_missed(session, desk, token_id=tid)),
        ("TokenRecalled", lambda: recall_token(session, desk, token_id=tid)),
        (
            "TokenTransferred",
            lambda: transfer_token(session, desk, token_id=tid, to_doctor_id=other_doctor.id),
        ),
        ("TokenCalled", lambda: call_next(session, desk, doctor_id=other_doctor.id)),
        ("TokenStarted", lambda: start_consultation(session, desk, token_id=tid)),
        ("TokenFinished", lambda: finish_token(session, desk, token_id=tid)),
    ]
    times, doctors = [], []
    tid = None
    for expected_type, command in steps:
        clock.advance(minutes=1)
        result = command()
        tid = tid or result.id
        times.append(clock())
        doctors.append(other_doctor.id if len(times) >= 9 else doctor.id)
        assert events(session, clinic_a, token_id=tid)[-1].type == expected_type
    clock.advance(minutes=1)
    cancelled = issue(session, desk, clinic_a, q, doctor)
    cancel_token(session, desk, token_id=cancelled.id)

    walked = events(session, clinic_a, token_id=tid)
    assert [e.type for e in walked] == [name for name, _ in steps]
    assert [e.created_at for e in walked] == times
    assert [e.doctor_id for e in walked] == doctors
    for e in [*walked, *events(session, clinic_a, token_id=cancelled.id)]:
        assert (e.tenant_id, e.branch_id) == (clinic_a.tenant_id, clinic_a.branch.id)
        assert e.department_id == clinic_a.department.id
        assert e.actor_id == desk.user_id is not None
        assert e.payload["code"] == "GEN-001" if e.token_id == tid else "GEN-002"
    moves = [(e.payload.get("from"), e.payload.get("to")) for e in walked[2:]]
    assert moves[:3] == [
        ("called", "in_consultation"),
        ("in_consultation", "at_lab"),
        ("at_lab", "waiting"),
    ]
    assert event_types(session, clinic_a, cancelled.id) == ["TokenIssued", "TokenCancelled"]


# --- bad input --------------------------------------------------------------------------------


def test_bad_input_gets_clear_errors_and_changes_nothing(
    session, clinic_a, clinic_b, desk, clock, doctor, other_doctor
):
    outsider = at_desk(clinic_b, clock)
    their_doctor = add_doctor(session, clinic_b, name="Dr. Elsewhere")
    p, q = register_patients(session, clinic_a, 2)
    done = issue(session, desk, clinic_a, p, doctor)
    call_next(session, desk, doctor_id=doctor.id)
    start_consultation(session, desk, token_id=done.id)
    finish_token(session, desk, token_id=done.id)
    waiting = issue(session, desk, clinic_a, q, doctor)
    before = snapshot(session, clinic_a)

    cases = [
        (NotFound, lambda: call_next(session, desk, doctor_id=999_999)),
        (NotFound, lambda: pause_doctor(session, desk, doctor_id=999_999, minutes=5)),
        (NotFound, lambda: call_next(session, desk, doctor_id=their_doctor.id)),
        (NotFound, lambda: announce_delay(session, desk, doctor_id=their_doctor.id, minutes=5)),
        (Conflict, lambda: finish_token(session, desk, token_id=done.id)),
        (Conflict, lambda: start_consultation(session, desk, token_id=done.id)),
        (Conflict, lambda: cancel_token(session, desk, token_id=done.id)),
        (Conflict, lambda: mark_missed(session, desk, token_id=waiting.id)),
        (NotFound, lambda: cancel_token(session, outsider, token_id=waiting.id)),
        (NotFound, lambda: start_consultation(session, outsider, token_id=waiting.id)),
        (NotFound, lambda: recall_token(session, outsider, token_id=waiting.id)),
        (NotFound, lambda: call_next(session, outsider, doctor_id=doctor.id)),
        (NotFound, lambda: pause_doctor(session, outsider, doctor_id=doctor.id, minutes=5)),
        (
            NotFound,
            lambda: transfer_token(
                session, outsider, token_id=waiting.id, to_doctor_id=their_doctor.id
            ),
        ),
        (
            NotFound,
            lambda: transfer_token(
                session, desk, token_id=waiting.id, to_doctor_id=their_doctor.id
            ),
        ),
        (
            ValidationFailed,
            lambda: transfer_token(session, desk, token_id=waiting.id, to_doctor_id=doctor.id),
        ),
        (
            ValidationFailed,
            lambda: issue(session, desk, clinic_a, q, other_doctor, kind="queue_jumper"),
        ),
        (ValidationFailed, lambda: pause_doctor(session, desk, doctor_id=doctor.id, minutes=0)),
        (ValidationFailed, lambda: pause_doctor(session, desk, doctor_id=doctor.id, minutes=999)),
    ]
    for error, command in cases:
        with pytest.raises(error):
            command()
    assert call_next(session, desk, doctor_id=other_doctor.id) is None
    assert snapshot(session, clinic_a) == before
