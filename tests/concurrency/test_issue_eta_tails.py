"""The ETA given at issue, from the last projection's line tails (no line read on the hot path).

With a projector (the service, the apps, the bench) a walk-in's ETA comes from
``queue_projections.line_tails`` plus the tokens issued since that projection; the projector's
run after the commit stores the full projection. These tests hold the two equal.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math

import pytest
from sqlalchemy import event, select

from core.clock import FrozenClock
from core.errors import NotFound
from core.queue.calling import call_next
from core.queue.eta_calibration import PRIOR, Calibration, ErrorBand
from core.queue.eta_projection import Z80, tail_estimate
from core.queue.lifecycle import start_consultation
from core.queue.line_tails import LineTails, Tail
from db.models import QueueToken
from db.models.queue import QueueProjection
from tests.concurrency.test_queue_projection import _clinic, _issue, _stored_vs_fresh
from workers.projector import Projector

NOW = dt.datetime(2026, 12, 7, 4, 0, tzinfo=dt.UTC)  # Monday 09:30 in India
MIN = dt.timedelta(minutes=1)


@pytest.fixture
def projector(db):
    p = Projector(db, background=True)
    db.after_commit = p  # no thread: each test drains it when it wants the projection stored
    yield p
    db.after_commit = None


class _Statements:
    def __init__(self, engine):
        self.engine, self.seen = engine, []

    def _count(self, conn, cursor, statement, *args):
        if "set_config" not in statement and not statement.startswith("BEGIN"):  # scope, lock
            self.seen.append(statement)

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._count)


def test_walk_ins_after_a_projection_get_the_etas_the_projector_then_stores(db, projector):
    clinic, (doctor_id,), patients = _clinic(db, 8)
    clock = FrozenClock(NOW)
    for pid in patients[:4]:
        _issue(db, clinic, clock, pid, doctor_id)
    assert projector.drain() == 1  # tails stored: the doctor is free for a 5th in 4 × 30 min
    clock.advance(minutes=7)  # nobody called meanwhile: the line has not moved
    later = [_issue(db, clinic, clock, pid, doctor_id) for pid in patients[4:]]
    assert [t.eta for t in later] == [clock() + (120 + 30 * i) * MIN for i in range(4)]
    assert [t.position for t in later] == [5, 6, 7, 8]
    assert all(t.eta_low <= t.eta <= t.eta_high for t in later)
    projector.drain()
    stored, fresh = _stored_vs_fresh(db, clinic, clock())
    assert stored == fresh
    assert {t.id: t.eta for t in later} == {t.id: stored[t.id] for t in later}


def test_a_pool_walk_in_goes_to_the_doctor_free_first_as_the_projection_does(db, projector):
    clinic, doctors, patients = _clinic(db, 7, doctors=2, strategy="pool")
    clock = FrozenClock(NOW)
    for pid in patients[:3]:  # pool tokens: the two doctors take turns
        _issue(db, clinic, clock, pid)
    _issue(db, clinic, clock, patients[3], doctors[0])  # and one named for the first doctor
    projector.drain()
    later = [_issue(db, clinic, clock, pid) for pid in patients[4:]]
    projector.drain()
    stored, fresh = _stored_vs_fresh(db, clinic, clock())
    assert stored == fresh
    assert [t.eta for t in later] == [stored[t.id] for t in later]
    with db.transaction(clinic.tenant_id, readonly=True) as s:
        assigned = s.scalars(
            select(QueueToken.doctor_id).where(QueueToken.id.in_([t.id for t in later]))
        ).all()
    assert assigned == [None, None, None]  # pool tokens: whoever is free first calls them


def test_the_issue_reads_no_line_once_tails_are_stored(db, projector):
    clinic, (doctor_id,), patients = _clinic(db, 3)
    clock = FrozenClock(NOW)
    _issue(db, clinic, clock, patients[0], doctor_id)
    projector.drain()
    with _Statements(db.engine) as issue:
        token = _issue(db, clinic, clock, patients[1], doctor_id)
    assert token.eta == NOW + 30 * MIN and token.position == 2
    line_reads = [
        s for s in issue.seen if "eta_at" in s and s.lstrip().upper().startswith("SELECT")
    ]
    assert line_reads == []  # today's tokens are not read: the tails and one count are
    one_statement = db.dialect == "postgresql"
    # place with the people checks, tokens issued since the projection, then counter + token +
    # event (one statement on PostgreSQL; counter, insert and event apart on SQLite)
    assert len(issue.seen) == (3 if one_statement else 5), issue.seen


def test_a_consultation_in_progress_counts_down_from_the_projection(db, projector):
    clinic, (doctor_id,), patients = _clinic(db, 2)
    clock = FrozenClock(NOW)
    desk = dataclasses.replace(clinic.receptionist, clock=clock)
    first = _issue(db, clinic, clock, patients[0], doctor_id)
    with db.transaction(clinic.tenant_id) as s:
        call_next(s, desk, doctor_id=doctor_id)
    with db.transaction(clinic.tenant_id) as s:
        start_consultation(s, desk, token_id=first.id)
    projector.drain()  # a 30-min consultation started at 09:30, nobody waiting
    clock.advance(minutes=12)
    second = _issue(db, clinic, clock, patients[1], doctor_id)
    assert second.eta == clock() + 18 * MIN  # 30 − 12 minutes left of the consultation
    clock.advance(minutes=40)  # and never in the past once it ran over
    projector.drain()
    third_clinic, (other,), (pid,) = _clinic(db, 1)
    assert _issue(db, third_clinic, clock, pid, other).eta == clock()
    stored, fresh = _stored_vs_fresh(db, clinic, NOW + 12 * MIN)
    assert stored[second.id] == second.eta == fresh[second.id]


def test_a_priority_patient_is_projected_with_the_line_not_from_the_tails(db, projector):
    clinic, (doctor_id,), patients = _clinic(db, 4)
    clock = FrozenClock(NOW)
    for pid in patients[:3]:
        _issue(db, clinic, clock, pid, doctor_id)
    projector.drain()
    vip = _issue(db, clinic, clock, patients[3], doctor_id, kind="priority")
    assert vip.position == 1 and vip.eta == NOW  # ahead of the walk-ins, not at the end
    projector.drain()
    stored, _fresh = _stored_vs_fresh(db, clinic, clock())
    assert stored[vip.id] == vip.eta


def test_tails_of_another_day_are_not_used(db, projector):
    clinic, (doctor_id,), patients = _clinic(db, 2)
    clock = FrozenClock(NOW)
    _issue(db, clinic, clock, patients[0], doctor_id)
    projector.drain()
    with db.transaction("*") as s:
        row = s.scalars(
            select(QueueProjection).where(QueueProjection.tenant_id == clinic.tenant_id)
        ).one()
        assert row.line_tails is not None and row.line_tails["day"] == "2026-12-07"
        row.line_tails = {**row.line_tails, "day": "2026-12-04"}  # Friday's
    token = _issue(db, clinic, clock, patients[1], doctor_id)
    assert token.eta == NOW + 30 * MIN  # projected from the line, not from Friday's tails


def test_another_clinics_tails_and_tokens_do_not_move_an_eta(db, projector):
    ours, (doctor_id,), patients = _clinic(db, 2)
    theirs, (other,), strangers = _clinic(db, 5)
    clock = FrozenClock(NOW)
    _issue(db, ours, clock, patients[0], doctor_id)
    projector.drain()
    for pid in strangers:  # issued after our projection, with higher ids
        _issue(db, theirs, clock, pid, other)
    token = _issue(db, ours, clock, patients[1], doctor_id)
    assert token.eta == NOW + 30 * MIN and token.position == 2
    with pytest.raises(NotFound):  # and their patient is not ours to issue to
        _issue(db, ours, clock, strangers[0], doctor_id)


def test_tail_estimate_on_a_hand_computed_case():
    """Two doctors; the tokens issued since the projection take their turns, then the new one."""
    at = NOW
    tails = LineTails(
        dt.date(2026, 12, 7),
        at,
        100,
        {
            # free in 30 min, 10 of them the consultation in progress; 15-min consultations
            1: Tail(1, 10, 30.0, 15.0, 2, 2.0, 5.0, (10.0, 0.0, 0.0)),
            2: Tail(2, 10, 40.0, 20.0, 1, 1.0, 0.0),  # free in 40: called patients only
        },
    )
    band = ErrorBand(-0.1, 0.2, 10.0)
    learned = Calibration(1.0, band)
    now = at + 5 * MIN  # doctor 1: 25 min from now; doctor 2: still 40
    # issued since: one named for doctor 1 (25 → 40), then two pool tokens: doctor 1 (tie at
    # 40, the lower id: → 55), doctor 2 (40 → 60). A new pool walk-in: doctor 1 at 55.
    got = tail_estimate(tails, now, 10, None, {None: 2, 1: 1}, learned)
    assert got is not None
    assert (got.doctor_id, got.position, got.minutes) == (1, 5, 55)
    assert got.eta == now + 55 * MIN
    # the range: 4 consultations of sd 5 ahead, and the band's early/late share of 55 min
    consult = Z80 * 5.0 * math.sqrt(4)
    low = math.floor(55 - math.hypot(consult, 0.1 * 55))
    high = math.ceil(55 + math.hypot(consult, 0.2 * 55))
    assert (low, high) == (41, 72)
    assert (got.low, got.high) == (now + low * MIN, now + high * MIN)
    # named for doctor 2 with nothing issued since: 40 min, behind one called patient
    named = tail_estimate(tails, now, 10, 2, {}, PRIOR)
    assert named is not None and (named.minutes, named.position) == (40, 2)
    assert tail_estimate(tails, now, 10, 99, {}, PRIOR) is None  # not on duty then


def test_stored_tails_that_cannot_be_read_mean_the_line_is_projected():
    assert LineTails.from_json(None) is None
    assert LineTails.from_json({"day": "2026-12-07"}) is None
    assert (
        LineTails.from_json({"day": "x", "at": NOW.isoformat(), "newest": 1, "doctors": []}) is None
    )


def test_issued_tokens_are_counted_once_each(db, projector):
    """The count of tokens since the projection skips non-waiting ones (called already)."""
    clinic, (doctor_id,), patients = _clinic(db, 4)
    clock = FrozenClock(NOW)
    _issue(db, clinic, clock, patients[0], doctor_id)
    projector.drain()
    _issue(db, clinic, clock, patients[1], doctor_id)
    with db.transaction(clinic.tenant_id) as s:  # two called since the projection
        desk = dataclasses.replace(clinic.receptionist, clock=clock)
        call_next(s, desk, doctor_id=doctor_id)
        call_next(s, desk, doctor_id=doctor_id)
    third = _issue(db, clinic, clock, patients[2], doctor_id)
    with db.transaction(clinic.tenant_id, readonly=True) as s:
        waiting = s.scalars(
            select(QueueToken.id).where(
                QueueToken.tenant_id == clinic.tenant_id, QueueToken.status == "waiting"
            )
        ).all()
    assert waiting == [third.id]
    # the tails saw one waiting token (free at +30); nothing waiting was issued since
    assert third.eta == NOW + 30 * MIN
