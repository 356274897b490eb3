"""The sweep for departments whose ETA re-projection was lost (issue 14).

A queue change commits; its process dies before the projector runs (or after the bump, before
the projection). The periodic sweep finds the department once ``grace`` has passed and
re-projects it, so its stored ETAs equal a fresh projection.

The sweep is system-wide and the test database is shared by the tests of a worker: these tests
run in December 2025, before any other test's clock (2026 and later, or the real time), so
what they sweep is their own clinics; every assertion still reads only their own tenants.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from core.clock import FrozenClock
from core.queue.projection import mark_dirty
from core.queue.projection_sweep import StaleDepartment, stale_departments
from db.models.queue import QueueProjection
from tests.concurrency.test_queue_projection import _clinic, _issue, _stored_vs_fresh
from workers.projector import Projector
from workers.ticker import (
    PROJECTION_GRACE,
    PROJECTION_SWEEP_SECONDS,
    SlotClaim,
    projection_jobs,
    repair_projections,
    tick,
)

NOW = dt.datetime(2025, 12, 1, 4, 0, tzinfo=dt.UTC)  # a Monday, 09:30 at the clinic
ROOT = Path(__file__).resolve().parents[2]


def _projected(db, clinic, clock, patients, doctor_id):
    """Issue tokens with a projector that projects at once (a live process)."""
    db.after_commit = Projector(db, background=False)
    try:
        return [_issue(db, clinic, clock, pid, doctor_id) for pid in patients]
    finally:
        db.after_commit = None


def _lost(db, clinic, clock, patients, doctor_id):
    """Issue tokens in a process that dies before its projector drains: the projector records
    the requests after each commit and is then discarded."""
    dead = Projector(db, background=True)  # no thread: nothing drains it
    db.after_commit = dead
    try:
        issued = [_issue(db, clinic, clock, pid, doctor_id) for pid in patients]
    finally:
        db.after_commit = None
    assert dead.stats.requested == len(patients) and dead.stats.projected == 0
    return issued


def _mine(db, now, clinics, grace=PROJECTION_GRACE):
    tenants = {clinic.tenant_id for clinic in clinics}
    with db.transaction("*", readonly=True) as s:
        found = stale_departments(s, now, grace=grace)
    return [f for f in found if f.tenant_id in tenants]


def _row(db, clinic):
    with db.transaction("*", readonly=True) as s:
        row = s.scalars(
            select(QueueProjection).where(QueueProjection.tenant_id == clinic.tenant_id)
        ).one()
        return row.dirty_seq, row.projected_seq, row.projected_at


@pytest.mark.parametrize("lost", ["before_the_bump", "after_the_bump"])
def test_a_lost_projection_is_swept_after_the_grace_and_the_etas_equal_a_fresh_one(db, lost):
    clinic, (doctor_id,), patients = _clinic(db, 5)
    clock = FrozenClock(NOW)
    _projected(db, clinic, clock, patients[:2], doctor_id)
    clock.advance(minutes=3)
    changed = clock()
    _lost(db, clinic, clock, patients[2:], doctor_id)
    reason = "unbumped"
    if lost == "after_the_bump":  # the bump committed, the projection never ran
        with db.transaction("*") as s:
            mark_dirty(s, clinic.tenant_id, clinic.department.id)
        reason = "unfinished"
    stored, fresh = _stored_vs_fresh(db, clinic, changed)
    assert stored != fresh and len(fresh) == 5  # three tokens carry no stored ETA
    assert _mine(db, changed + dt.timedelta(seconds=29), [clinic]) == []  # a projector may run
    at = changed + dt.timedelta(seconds=31)
    expected = StaleDepartment(clinic.tenant_id, clinic.department.id, reason)
    assert _mine(db, at, [clinic]) == [expected]

    assert repair_projections(db, FrozenClock(at)) >= 1
    stored, fresh = _stored_vs_fresh(db, clinic, at)
    assert stored == fresh and len(stored) == 5
    dirty, projected, projected_at = _row(db, clinic)
    assert dirty == projected and projected_at == at
    assert _mine(db, at + dt.timedelta(hours=1), [clinic]) == []  # repaired for good


def test_a_department_projected_after_its_last_change_is_not_swept(db):
    clinic, (doctor_id,), patients = _clinic(db, 3)
    clock = FrozenClock(NOW + dt.timedelta(minutes=10))
    _projected(db, clinic, clock, patients, doctor_id)
    before = _row(db, clinic)
    assert before[0] == before[1] == 3
    later = clock() + dt.timedelta(hours=2)
    assert _mine(db, later, [clinic]) == []
    repair_projections(db, FrozenClock(later))
    assert _row(db, clinic) == before  # neither bumped nor re-projected


def test_the_sweep_repairs_every_clinics_stale_departments_and_only_those(db):
    clock = FrozenClock(NOW + dt.timedelta(minutes=20))
    clinics = []
    for _ in range(3):
        clinic, (doctor_id,), patients = _clinic(db, 3)
        _projected(db, clinic, clock, patients[:1], doctor_id)
        clinics.append((clinic, doctor_id, patients))
    (stale_a, doc_a, pat_a), (stale_b, doc_b, pat_b), (fresh_c, doc_c, pat_c) = clinics
    clock.advance(minutes=1)
    _lost(db, stale_a, clock, pat_a[1:], doc_a)
    _lost(db, stale_b, clock, pat_b[1:], doc_b)
    _projected(db, fresh_c, clock, pat_c[1:], doc_c)
    untouched = _row(db, fresh_c)
    at = clock() + dt.timedelta(minutes=1)
    found = _mine(db, at, [c for c, _, _ in clinics])
    assert {(f.tenant_id, f.department_id) for f in found} == {
        (stale_a.tenant_id, stale_a.department.id),
        (stale_b.tenant_id, stale_b.department.id),
    }

    assert repair_projections(db, FrozenClock(at)) >= 2
    for clinic in (stale_a, stale_b):
        stored, fresh = _stored_vs_fresh(db, clinic, at)
        assert stored == fresh and len(stored) == 3
        assert _row(db, clinic)[2] == at
    assert _row(db, fresh_c) == untouched
    assert _mine(db, at, [c for c, _, _ in clinics]) == []


def test_two_tickers_run_the_sweep_once_per_slot(db):
    clinic, (doctor_id,), patients = _clinic(db, 2)
    clock = FrozenClock(NOW + dt.timedelta(minutes=30))
    _projected(db, clinic, clock, patients[:1], doctor_id)
    clock.advance(minutes=1)
    _lost(db, clinic, clock, patients[1:], doctor_id)
    dirty = _row(db, clinic)[0]
    clock.advance(minutes=1)
    now = clock().timestamp()
    first = tick(SlotClaim(None, db, clock), projection_jobs(db, clock), now)
    second = tick(SlotClaim(None, db, clock), projection_jobs(db, clock), now)
    assert (first, second) == (["projection_sweep"], [])
    assert _row(db, clinic)[:2] == (dirty + 1, dirty + 1)  # bumped and projected once
    stored, fresh = _stored_vs_fresh(db, clinic, clock())
    assert stored == fresh and len(stored) == 2
    later = now + PROJECTION_SWEEP_SECONDS
    assert tick(SlotClaim(None, db, clock), projection_jobs(db, clock), later) == [
        "projection_sweep"
    ]  # the next slot runs again, and finds nothing left
    assert _row(db, clinic)[:2] == (dirty + 1, dirty + 1)


_DYING = """
import datetime, json, os, signal, sys
from core.clock import FrozenClock
from core.context import Actor
from core.queue.issuing import issue_token
from db.engine import Database, make_engine
from workers.projector import Projector

job = json.loads(sys.argv[1])
db = Database(make_engine(job["url"]))
projector = Projector(db, background=True)
db.after_commit = projector  # its thread is not started yet when the process dies
desk = Actor(**job["actor"], clock=FrozenClock(datetime.datetime.fromisoformat(job["now"])))
for patient_id in job["patients"]:
    with db.transaction(job["actor"]["tenant_id"]) as s:
        issue_token(s, desk, patient_id=patient_id, department_id=job["department_id"],
                    kind="walk_in", doctor_id=job["doctor_id"])
assert projector.stats.requested == len(job["patients"]) and projector.stats.projected == 0
print("issued", flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.timeout(120)
def test_a_process_killed_before_its_projector_ran_is_repaired_by_the_sweep(db):
    clinic, (doctor_id,), patients = _clinic(db, 4)
    clock = FrozenClock(NOW + dt.timedelta(minutes=40))
    _projected(db, clinic, clock, patients[:1], doctor_id)
    clock.advance(minutes=1)
    desk = dataclasses.asdict(clinic.receptionist)
    desk.pop("clock")
    job = {
        "url": db.engine.url.render_as_string(hide_password=False),
        "actor": desk,
        "now": clock().isoformat(),
        "patients": patients[1:],
        "department_id": clinic.department.id,
        "doctor_id": doctor_id,
    }
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    dying = subprocess.run(
        [sys.executable, "-c", _DYING, json.dumps(job)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert dying.returncode == -signal.SIGKILL, dying.stderr
    assert dying.stdout.strip() == "issued"
    stored, fresh = _stored_vs_fresh(db, clinic, clock())
    assert len(fresh) == 4 and stored != fresh  # three committed tokens, never projected
    at = clock() + PROJECTION_GRACE + dt.timedelta(seconds=1)
    assert [f.reason for f in _mine(db, at, [clinic])] == ["unbumped"]
    assert repair_projections(db, FrozenClock(at)) >= 1
    stored, fresh = _stored_vs_fresh(db, clinic, at)
    assert stored == fresh and len(stored) == 4
