"""Call-next with a projector installed (the lean path): same order as the line, bounded cost."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import event, select

from core.clock import FrozenClock
from core.errors import NotFound
from core.queue.call_sql import BATCH
from core.queue.calling import call_next
from core.queue.issuing import issue_token
from core.queue.place import queue_place
from core.queue.scoring import Candidate, rank
from core.scheduling.booking import book_appointment
from db.models import QueueEvent, QueueToken
from tests.support import add_doctor, local, make_clinic, register_patients, set_queue_settings
from workers.projector import Projector

MONDAY = dt.date(2026, 12, 7)

# (minutes after 08:45 local, kind, whose: "me" = the calling doctor, "pool", "other" doctor,
# booked slot as (hour, minute) or None). Booked at 09:00 and checked in early: waits from its
# slot; booked at 11:00: behind everyone for the whole test.
MIXED = [
    (0, "walk_in", "pool", None),
    (5, "booked", "me", (9, 0)),
    (7, "walk_in", "me", None),
    (10, "follow_up", "me", None),
    (15, "vip", "me", None),
    (16, "vip", "pool", None),
    (17, "priority", "me", None),
    (18, "lab_return", "me", None),
    (20, "booked", "me", (11, 0)),
    (21, "walk_in", "me", None),
    (22, "emergency", "pool", None),
    (23, "walk_in", "other", None),
    (25, "vip", "me", None),
    (27, "follow_up", "pool", None),
    (30, "walk_in", "me", None),
    (31, "priority", "me", None),
    (33, "walk_in", "pool", None),
    (35, "emergency", "me", None),
    (37, "vip", "me", None),
    (40, "walk_in", "me", None),
]


@pytest.fixture
def projector(db):
    def install() -> Projector:
        p = Projector(db, background=True)  # no thread: projections stay pending
        db.after_commit = p
        return p

    yield install
    db.after_commit = None


def _line(db, arrivals, *, cap_every=3):
    """A pool department with the calling doctor and another; ``arrivals`` issued in order."""
    with db.transaction("*") as s:
        clinic = make_clinic(s)
        set_queue_settings(s, clinic, strategy="pool", department={"cap_every": cap_every})
        me = add_doctor(s, clinic).id
        other = add_doctor(s, clinic, name="Dr. Other").id
        patients = register_patients(s, clinic, len(arrivals))
    clock = FrozenClock(local(clinic, MONDAY, 8, 45))
    desk = dataclasses.replace(clinic.receptionist, clock=clock)
    whose = {"me": me, "other": other, "pool": None}
    for patient, (minutes, kind, who, slot) in zip(patients, arrivals, strict=True):
        with db.transaction(clinic.tenant_id) as s:
            appointment = None
            if slot is not None:
                clock.at = local(clinic, MONDAY, 8)
                appointment = book_appointment(
                    s,
                    desk,
                    doctor_id=me,
                    patient_id=patient,
                    slot_start=local(clinic, MONDAY, *slot),
                ).id
            clock.at = local(clinic, MONDAY, 8, 45) + dt.timedelta(minutes=minutes)
            issue_token(
                s,
                desk,
                patient_id=patient,
                department_id=clinic.department.id,
                kind=kind,
                doctor_id=whose[who],
                appointment_id=appointment,
            )
    return clinic, me


def _call_all(db, clinic, doctor_id):
    """Call until nobody waits, one minute apart from 09:30; return the called codes."""
    clock = FrozenClock(local(clinic, MONDAY, 9, 30))
    desk = dataclasses.replace(clinic.receptionist, clock=clock)
    codes = []
    while True:
        with db.transaction(clinic.tenant_id) as s:
            called = call_next(s, desk, doctor_id=doctor_id)
        if called is None:
            return codes
        codes.append(called.code)
        clock.advance(minutes=1)


def _expected(db, clinic, doctor_id, now):
    """``rank`` over the doctor's whole waiting line (own and pool tokens), as codes."""
    with db.transaction(clinic.tenant_id, readonly=True) as s:
        rules = queue_place(s, clinic.tenant_id, clinic.department.id).rules
        rows = s.execute(
            select(
                QueueToken.id,
                QueueToken.kind,
                QueueToken.issued_at,
                QueueToken.target_at,
                QueueToken.department_id,
                QueueToken.code,
            ).where(
                QueueToken.tenant_id == clinic.tenant_id,
                QueueToken.status == "waiting",
                (QueueToken.doctor_id == doctor_id) | QueueToken.doctor_id.is_(None),
            )
        ).all()
    codes = {r.id: r.code for r in rows}
    line = [Candidate(r.id, r.kind, r.issued_at, r.target_at, r.department_id) for r in rows]
    return [codes[c.id] for c in rank(line, now, rules)]


def test_the_lean_path_calls_in_the_order_of_the_whole_line(db, projector):
    full_clinic, full_doctor = _line(db, MIXED)
    lean_clinic, lean_doctor = _line(db, MIXED)
    expected = _expected(db, lean_clinic, lean_doctor, local(lean_clinic, MONDAY, 9, 30))
    assert len(expected) == 19 > BATCH  # the other doctor's walk-in is not ours
    full = _call_all(db, full_clinic, full_doctor)  # no projector: the department's line
    projector()
    lean = _call_all(db, lean_clinic, lean_doctor)
    assert lean == full == expected
    assert [c[-3:] for c in lean[:2]] == ["011", "018"]  # the two emergencies first


def test_the_cap_falls_back_to_a_free_patient_behind_more_capped_than_a_batch(db, projector):
    vips = [(i, "vip", "me", None) for i in range(BATCH + 4)]
    arrivals = [*vips, (30, "walk_in", "me", None), (31, "walk_in", "pool", None)]
    clinic, doctor = _line(db, arrivals)
    expected = _expected(db, clinic, doctor, local(clinic, MONDAY, 9, 30))
    projector()
    called = _call_all(db, clinic, doctor)
    assert called == expected
    # vip, then the cap holds for two calls: both walk-ins, though 11 VIPs score higher
    assert [c[-3:] for c in called[:4]] == ["001", "013", "014", "002"]


def test_another_clinics_doctor_is_not_found_on_the_lean_path(db, projector):
    clinic, doctor = _line(db, [(0, "walk_in", "me", None)])
    with db.transaction("*") as s:
        outsider = make_clinic(s)
    projector()
    desk = dataclasses.replace(outsider.receptionist, clock=FrozenClock(local(clinic, MONDAY, 10)))
    with pytest.raises(NotFound), db.transaction(outsider.tenant_id) as s:
        call_next(s, desk, doctor_id=doctor)
    with db.transaction(clinic.tenant_id, readonly=True) as s:
        waiting = s.scalars(
            select(QueueToken.status).where(QueueToken.tenant_id == clinic.tenant_id)
        ).all()
    assert waiting == ["waiting"]


class _Statements:
    """Count statements sent on ``engine`` by threads that have set ``counting``."""

    def __init__(self, engine):
        self.engine, self.seen, self.local = engine, [], threading.local()
        self._guard = threading.Lock()

    def _count(self, conn, cursor, statement, *args):
        # not the transaction's own BEGIN (SQLite) or the RLS scope (PostgreSQL, db/engine.py)
        bookkeeping = statement.startswith("BEGIN") or "set_config" in statement
        if getattr(self.local, "counting", False) and not bookkeeping:
            with self._guard:
                self.seen.append(statement)

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._count)


def test_a_lean_call_sends_a_bounded_handful_of_statements(db, projector):
    clinic, doctor = _line(db, MIXED)
    projector()
    desk = dataclasses.replace(clinic.receptionist, clock=FrozenClock(local(clinic, MONDAY, 9, 30)))
    with _Statements(db.engine) as calls, db.transaction(clinic.tenant_id) as s:
        calls.local.counting = True
        assert call_next(s, desk, doctor_id=doctor) is not None
    # K = 6: the doctor with its place (and, on PostgreSQL, the doctor's call lock), the
    # doctor's session and latest calls, the best candidates, the claim, the event, the
    # now-serving intent. Nothing reads the department's line (the projector does, after commit).
    assert len(calls.seen) <= 6, calls.seen
    assert not any("near_turn_sent" in statement for statement in calls.seen)


@pytest.mark.timeout(300)
def test_sixteen_callers_of_one_doctor_call_each_token_once_in_rank_order(db, projector):
    if db.dialect != "postgresql":
        pytest.skip("SQLite's writer lock serialises callers: no race to run")
    kinds = ["walk_in", "walk_in", "vip", "follow_up", "walk_in", "priority", "walk_in"]
    arrivals = [(i, kinds[i % len(kinds)], "me", None) for i in range(60)]
    arrivals += [(61, "emergency", "me", None), (62, "walk_in", "pool", None)]
    clinic, doctor = _line(db, arrivals)
    start = local(clinic, MONDAY, 10)
    expected = _expected(db, clinic, doctor, start)
    projector()
    ticks, guard = iter(range(10_000)), threading.Lock()

    def tick() -> dt.datetime:
        with guard:
            return start + dt.timedelta(seconds=next(ticks))

    desk = dataclasses.replace(clinic.receptionist, clock=tick)
    barrier = threading.Barrier(16, timeout=60)
    calls = 0
    with _Statements(db.engine) as seen:

        def caller(_n):
            nonlocal calls
            barrier.wait()
            while True:
                with db.transaction(clinic.tenant_id) as s:
                    seen.local.counting = True
                    called = call_next(s, desk, doctor_id=doctor)
                    seen.local.counting = False
                with guard:
                    calls += 1
                if called is None:
                    return

        with ThreadPoolExecutor(max_workers=16) as pool:
            list(pool.map(caller, range(16)))
    with db.transaction(clinic.tenant_id, readonly=True) as s:
        order = s.execute(
            select(QueueToken.code)
            .where(QueueToken.tenant_id == clinic.tenant_id)
            .order_by(QueueToken.called_at, QueueToken.id)
        ).scalars()
        events = Counter(
            s.scalars(
                select(QueueEvent.token_id).where(
                    QueueEvent.tenant_id == clinic.tenant_id, QueueEvent.type == "TokenCalled"
                )
            )
        )
    assert list(order) == expected  # called_at is read under the doctor's lock: calling order
    assert len(events) == len(expected) and set(events.values()) == {1}
    print(f"\n16 callers, one doctor: {len(seen.seen)} statements / {calls} calls")
    # 62 calls and 16 that found nobody: a handful each, not a walk down the list per client
    assert len(seen.seen) / calls <= 7, (len(seen.seen), calls)
