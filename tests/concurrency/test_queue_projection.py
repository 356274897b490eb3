"""ETA re-projection after commit: coalescing, no lost update, intents still written."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import event, select

from core.clock import FrozenClock
from core.queue.calling import call_next
from core.queue.doctor_day import announce_delay, pause_doctor, resume_doctor
from core.queue.eta_calibration import learned_calibration
from core.queue.eta_projection import project_line
from core.queue.issuing import issue_token
from core.queue.lifecycle import finish_token, start_consultation
from core.queue.line import RECENT, load_line
from core.queue.place import queue_place
from core.queue.projection import Pending, merged
from db.models import OutboxMessage, Patient, QueueToken
from db.models.queue import QueueProjection
from tests.support import add_doctor, make_clinic, set_queue_settings
from workers.projector import Projector

NOW = dt.datetime(2026, 12, 7, 4, 0, tzinfo=dt.UTC)


def _clinic(db, patients, doctors=1, strategy=None):
    with db.transaction("*") as s:
        clinic = make_clinic(s)
        if strategy is not None:
            set_queue_settings(s, clinic, strategy=strategy)
        doctor_ids = [add_doctor(s, clinic).id for _ in range(doctors)]
        ids = []
        for i in range(patients):
            p = Patient(
                tenant_id=clinic.tenant_id,
                code=f"PPRJ{i:04d}",
                full_name=f"Projected {i}",
                name_key=f"projected {i}",
            )
            s.add(p)
            s.flush()
            ids.append(p.id)
    return clinic, doctor_ids, ids


def _desk(clinic, clock):
    return dataclasses.replace(clinic.receptionist, clock=clock)


def _issue(db, clinic, clock, patient_id, doctor_id=None, kind="walk_in"):
    with db.transaction(clinic.tenant_id) as s:
        return issue_token(
            s,
            _desk(clinic, clock),
            patient_id=patient_id,
            department_id=clinic.department.id,
            kind=kind,
            doctor_id=doctor_id,
        )


def _stored_vs_fresh(db, clinic, now):
    """(stored eta_at per waiting token, a fresh read-only projection of the same line).

    The fresh projection learns its calibration from the same calls (``learned_calibration``).
    """
    with db.transaction(clinic.tenant_id, readonly=True) as s:
        place = queue_place(s, clinic.tenant_id, clinic.department.id)
        rules = place.rules
        line = load_line(
            s, clinic.tenant_id, place, place.service_date(now), rules, since=now - RECENT
        )
        day = place.service_date(now)
        learned = learned_calibration(s, clinic.tenant_id, clinic.department.id, day, now)
        fresh = project_line(line, now, rules, learned)
        stored = dict(
            s.execute(
                select(QueueToken.id, QueueToken.eta_at).where(
                    QueueToken.tenant_id == clinic.tenant_id, QueueToken.status == "waiting"
                )
            ).all()
        )
    return stored, {token_id: p.eta for token_id, p in fresh.items()}


@pytest.fixture
def projector(db):
    made: list[Projector] = []

    def install(background: bool) -> Projector:
        p = Projector(db, background=background)
        db.after_commit = p  # no thread: the test drains it
        made.append(p)
        return p

    yield install
    db.after_commit = None


def test_a_burst_of_thirty_events_is_one_projection_equal_to_a_fresh_one(db, projector):
    clinic, (doctor_id,), patients = _clinic(db, 30)
    clock = FrozenClock(NOW)
    p = projector(background=True)
    issued = [_issue(db, clinic, clock, pid, doctor_id) for pid in patients]
    assert p.stats.requested == 30 and p.stats.projected == 0  # nothing projected yet
    assert [t.position for t in issued] == list(range(1, 31))  # each token knew its ETA
    assert p.drain() == 1
    assert p.stats.projected == 1
    stored, fresh = _stored_vs_fresh(db, clinic, NOW)
    assert stored == fresh and len(stored) == 30
    assert {t.id: t.eta for t in issued} == fresh  # the ETA returned is the one stored


def test_a_covered_job_does_nothing_and_the_sequence_moves(db, projector):
    clinic, (doctor_id,), patients = _clinic(db, 3)
    clock = FrozenClock(NOW)
    p = projector(background=False)
    for pid in patients:
        _issue(db, clinic, clock, pid, doctor_id)
    assert p.stats.projected == 3  # synchronous: one per commit, each after its commit
    with db.transaction("*", readonly=True) as s:
        row = s.scalars(
            select(QueueProjection).where(QueueProjection.tenant_id == clinic.tenant_id)
        ).one()
        assert (row.dirty_seq, row.projected_seq) == (3, 3)


@pytest.mark.timeout(240)
def test_stored_etas_after_a_concurrent_burst_match_the_last_committed_state(db, projector):
    clinic, doctor_ids, patients = _clinic(db, 48, doctors=2)
    clock = FrozenClock(NOW)
    p = projector(background=False)  # every committer projects at once: maximum contention
    barrier = threading.Barrier(8, timeout=60)

    def issuer(chunk):
        barrier.wait()
        for pid in chunk:
            _issue(db, clinic, clock, pid)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(issuer, [patients[i::8] for i in range(8)]))

    def caller(doctor_id):
        actor = _desk(clinic, clock)
        for _ in range(5):
            with db.transaction(clinic.tenant_id) as s:
                call_next(s, actor, doctor_id=doctor_id)

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(caller, doctor_ids))
    assert p.stats.projected >= 1
    stored, fresh = _stored_vs_fresh(db, clinic, NOW)
    assert len(stored) == 48 - 10
    assert stored == fresh


def test_near_turn_and_now_serving_intents_still_fire(db, projector):
    clinic, (doctor_id,), patients = _clinic(db, 6)
    clock = FrozenClock(NOW)
    projector(background=False)
    issued = [_issue(db, clinic, clock, pid, doctor_id) for pid in patients]
    desk = _desk(clinic, clock)
    with db.transaction(clinic.tenant_id) as s:
        first = call_next(s, desk, doctor_id=doctor_id)
    assert first is not None and first.id == issued[0].id
    with db.transaction(clinic.tenant_id) as s:
        start_consultation(s, desk, token_id=first.id)
    clock.advance(minutes=20)
    with db.transaction(clinic.tenant_id) as s:
        finish_token(s, desk, token_id=first.id)
    with db.transaction(clinic.tenant_id, readonly=True) as s:
        kinds = s.execute(
            select(OutboxMessage.kind, OutboxMessage.payload).where(
                OutboxMessage.tenant_id == clinic.tenant_id
            )
        ).all()
    near = sorted(payload["token_id"] for kind, payload in kinds if kind == "whatsapp.near_turn")
    serving = [payload["token_id"] for kind, payload in kinds if kind == "whatsapp.now_serving"]
    assert serving == [first.id]
    assert near == sorted(t.id for t in issued[:4])  # within three places, once each


class _Statements:
    """Count the SQL statements sent on ``engine`` while active."""

    def __init__(self, engine):
        self.engine, self.seen = engine, []

    def _count(self, conn, cursor, statement, *args):
        self.seen.append(statement)

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._count)


@pytest.mark.postgres_only
def test_issue_and_call_next_send_few_statements(db, projector):
    if db.dialect != "postgresql":
        pytest.skip("the one-statement issue is PostgreSQL's")
    clinic, (doctor_id,), patients = _clinic(db, 4)
    clock = FrozenClock(NOW)
    projector(background=True)  # projections stay pending: only the hot path is counted
    _issue(db, clinic, clock, patients[0], doctor_id)  # opens the day's counter
    with _Statements(db.engine) as issue:
        token = _issue(db, clinic, clock, patients[1], doctor_id)
    assert token.created and token.position == 2
    # scope, place with the people checks, line (2: no projection stored its tails yet), then
    # counter + token + event as one statement (with tails: test_issue_eta_tails)
    assert len(issue.seen) <= 5, issue.seen
    assert sum("token_counters" in s for s in issue.seen) == 1
    with _Statements(db.engine) as call, db.transaction(clinic.tenant_id) as s:
        called = call_next(s, _desk(clinic, clock), doctor_id=doctor_id)
    assert called is not None
    # scope, the doctor with its place and call lock, the doctor's session and latest calls,
    # the best candidates (a batch, not the line), claim, event, now-serving intent
    assert len(call.seen) <= 7, call.seen
    assert sum("pg_advisory_xact_lock" in s for s in call.seen) == 1
    assert not any("near_turn_sent" in s for s in call.seen)  # the line is the projector's read


def _waiting_etas(db, clinic):
    with db.transaction(clinic.tenant_id, readonly=True) as s:
        return dict(
            s.execute(
                select(QueueToken.id, QueueToken.eta_at).where(
                    QueueToken.tenant_id == clinic.tenant_id, QueueToken.status == "waiting"
                )
            ).all()
        )


def _eta_writes(statements):
    return [s for s in statements if s.lstrip().upper().startswith("UPDATE") and "eta_at" in s]


@pytest.mark.parametrize("change", ["pause", "resume", "delay", "call_while_paused"])
def test_a_doctor_day_change_leaves_the_stored_etas_to_the_projector(db, projector, change):
    """Pause, resume, delay (and the resume inside a call) write no ETA in their transaction;
    the projector's run after commit stores what a fresh projection gives."""
    clinic, (doctor_id,), patients = _clinic(db, 4)
    clock = FrozenClock(NOW)
    p = projector(background=True)
    for pid in patients:
        _issue(db, clinic, clock, pid, doctor_id)
    desk = _desk(clinic, clock)
    if change in ("resume", "call_while_paused"):
        with db.transaction(clinic.tenant_id) as s:
            pause_doctor(s, desk, doctor_id=doctor_id, minutes=30)
    p.drain()
    before = _waiting_etas(db, clinic)
    asked = p.stats.requested
    with _Statements(db.engine) as seen, db.transaction(clinic.tenant_id) as s:
        if change == "pause":
            pause_doctor(s, desk, doctor_id=doctor_id, minutes=30)
        elif change == "resume":
            resume_doctor(s, desk, doctor_id=doctor_id)
        elif change == "delay":
            day = announce_delay(s, desk, doctor_id=doctor_id, minutes=40)
            assert day.notified == 4
        else:
            called = call_next(s, desk, doctor_id=doctor_id)
            assert called is not None
    assert _eta_writes(seen.seen) == []
    after_commit = _waiting_etas(db, clinic)
    assert after_commit == {k: v for k, v in before.items() if k in after_commit}
    assert p.stats.requested == asked + 1  # one request for the department
    _, fresh = _stored_vs_fresh(db, clinic, NOW)
    assert fresh != {k: v for k, v in before.items() if k in fresh}  # the change moved ETAs
    assert p.drain() == 1
    stored, fresh = _stored_vs_fresh(db, clinic, NOW)
    assert stored == fresh and len(stored) == (3 if change == "call_while_paused" else 4)
    if change == "delay":  # each patient is told the ETA the projector then stored
        with db.transaction(clinic.tenant_id, readonly=True) as s:
            told = {
                payload["token_id"]: dt.datetime.fromisoformat(payload["eta"])
                for payload in s.scalars(
                    select(OutboxMessage.payload).where(
                        OutboxMessage.tenant_id == clinic.tenant_id,
                        OutboxMessage.kind == "whatsapp.delay",
                    )
                )
            }
        assert told == stored


def test_a_resume_then_a_call_in_one_transaction_keeps_the_doctor_in_the_projection():
    """Two requests for one department merge into the later one, keeping the doctor to count."""
    early = Pending(1, 2, NOW, include=7)
    later = Pending(1, 2, NOW + dt.timedelta(seconds=1))
    assert merged(early, later) == Pending(1, 2, later.now, include=7)
    assert merged(later, early) == early
    assert merged(None, later) == later


def test_projection_latency_counts_from_the_oldest_change_waiting(db, projector):
    clinic, (doctor_id,), patients = _clinic(db, 2)
    clock = FrozenClock(NOW)
    p = projector(background=True)
    _issue(db, clinic, clock, patients[0], doctor_id)
    time.sleep(0.3)
    _issue(db, clinic, clock, patients[1], doctor_id)  # merged into the first's request
    assert p.drain() == 1
    assert p.stats.latencies[0] >= 0.3  # not the 0 s since the second change


@pytest.mark.postgres_only
def test_a_department_another_process_is_projecting_is_tried_again_not_waited_for(db, projector):
    """The thread does not queue behind another process's projection of the same department:
    it keeps the job (already bumped) and, once that projection covered it, only reads."""
    if db.dialect != "postgresql":
        pytest.skip("the projection lock is PostgreSQL's advisory lock")
    from sqlalchemy import text

    from core.queue.projection import LOCK_CLASS, project_department

    clinic, (doctor_id,), patients = _clinic(db, 3)
    clock = FrozenClock(NOW)
    p = projector(background=True)
    _issue(db, clinic, clock, patients[0], doctor_id)
    dept = clinic.department.id
    with db.transaction("*") as other:  # another process is projecting the department
        other.execute(text("SELECT pg_advisory_xact_lock(:c, :d)"), {"c": LOCK_CLASS, "d": dept})
        assert p.drain(wait=False) == 1
        assert (p.stats.busy, p.stats.projected) == (1, 0)
        assert p.wait_idle(0) is False  # still pending, bumped
    with db.transaction("*") as other:  # that process's projection covers the change
        run = project_department(other, clinic.tenant_id, dept, NOW)
        assert run.status == "projected"
    assert p.drain(wait=False) == 1
    assert (p.stats.projected, p.stats.current) == (0, 1)  # covered: one read, no projection
    _issue(db, clinic, clock, patients[1], doctor_id)  # and a new change projects again
    assert p.drain(wait=False) == 1 and p.stats.projected == 1
    stored, fresh = _stored_vs_fresh(db, clinic, NOW)
    assert stored == fresh and len(stored) == 2
