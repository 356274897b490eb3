"""Races on a queue day, committed for real under fresh clinics: pauses, transfers, allocation,
several doctors calling one pool. Threads start behind a barrier; exactly one winner, no gaps."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from core.clock import FrozenClock
from core.errors import DomainError
from core.queue.calling import call_next
from core.queue.doctor_day import pause_doctor, resume_doctor
from core.queue.issuing import issue_token
from core.queue.lifecycle import cancel_token, transfer_token
from db.models import DoctorSession, Patient, QueueEvent, QueueToken
from tests.support import add_doctor, make_clinic

NOW = dt.datetime(2026, 12, 7, 4, 0, tzinfo=dt.UTC)  # 09:30 in Kolkata, a Monday


def _desk(clinic, at=NOW):
    return dataclasses.replace(clinic.receptionist, clock=FrozenClock(at))


def _clinic(db, *, doctors=1, patients=0, strategy="shortest_wait"):
    """A committed clinic with ``doctors`` on duty today and bare patient rows."""
    with db.transaction("*") as s:
        clinic = make_clinic(s)
        clinic.department.allocation_strategy = strategy
        docs = [add_doctor(s, clinic, name=f"Dr. {i}") for i in range(doctors)]
        ids = []
        for i in range(patients):
            patient = Patient(
                tenant_id=clinic.tenant_id,
                code=f"PATQ{i:04d}",
                full_name=f"Racer {i}",
                name_key=f"racer {i}",
            )
            s.add(patient)
            s.flush()
            ids.append(patient.id)
    return clinic, [d.id for d in docs], ids


def _issue(db, clinic, patient_ids, doctor_id=None, at=NOW):
    with db.transaction(clinic.tenant_id) as s:
        return [
            issue_token(
                s,
                _desk(clinic, at),
                patient_id=p,
                department_id=clinic.department.id,
                kind="walk_in",
                doctor_id=doctor_id,
            ).id
            for p in patient_ids
        ]


def _race(db, clinic, commands):
    """Run each command in its own transaction, all released by one barrier.

    Returns each command's outcome: "won", or the domain error's class name.
    """
    barrier = threading.Barrier(len(commands), timeout=60)

    def run(command):
        barrier.wait()
        try:
            with db.transaction(clinic.tenant_id) as s:
                command(s)
        except DomainError as exc:
            return type(exc).__name__
        return "won"

    with ThreadPoolExecutor(max_workers=len(commands)) as pool:
        return list(pool.map(run, commands))


def _events(db, clinic, type_):
    with db.transaction(clinic.tenant_id, readonly=True) as s:
        return s.scalars(
            select(QueueEvent).where(
                QueueEvent.tenant_id == clinic.tenant_id, QueueEvent.type == type_
            )
        ).all()


# --- pause -----------------------------------------------------------------------------------


@pytest.mark.timeout(120)
def test_two_desks_pausing_one_doctor_at_once_one_wins_the_other_conflicts(db):
    clinic, (doctor_id,), _ = _clinic(db)
    desk = _desk(clinic)
    rounds = 5
    for _ in range(rounds):
        pause = _race(
            db, clinic, [lambda s: pause_doctor(s, desk, doctor_id=doctor_id, minutes=10)] * 2
        )
        assert sorted(pause) == ["Conflict", "won"]
        resume = _race(db, clinic, [lambda s: resume_doctor(s, desk, doctor_id=doctor_id)] * 2)
        assert sorted(resume) == ["Conflict", "won"]
    assert len(_events(db, clinic, "DoctorPaused")) == rounds
    assert len(_events(db, clinic, "DoctorResumed")) == rounds
    with db.transaction(clinic.tenant_id, readonly=True) as s:
        sessions = s.scalars(
            select(DoctorSession.status).where(DoctorSession.tenant_id == clinic.tenant_id)
        ).all()
    assert sessions == ["active"]  # one day row, created once by the upsert


# --- transfer and cancel ----------------------------------------------------------------------

ROUNDS = 6


@pytest.mark.timeout(120)
def test_two_desks_cancelling_one_token_at_once_one_wins(db):
    clinic, (doctor_id,), patients = _clinic(db, patients=ROUNDS)
    desk = _desk(clinic)
    for token_id in _issue(db, clinic, patients, doctor_id):
        outcomes = _race(db, clinic, [lambda s, t=token_id: cancel_token(s, desk, token_id=t)] * 2)
        assert sorted(outcomes) == ["Conflict", "won"]
    assert len(_events(db, clinic, "TokenCancelled")) == ROUNDS


@pytest.mark.timeout(120)
def test_two_desks_transferring_one_token_to_one_doctor_at_once_one_wins(db):
    clinic, (first, second), patients = _clinic(db, doctors=2, patients=ROUNDS)
    desk = _desk(clinic)
    for token_id in _issue(db, clinic, patients, first):
        move = [lambda s, t=token_id: transfer_token(s, desk, token_id=t, to_doctor_id=second)]
        outcomes = _race(db, clinic, move * 2)
        # the loser either lost the compare-and-set or saw the token already moved
        assert outcomes.count("won") == 1
        assert set(outcomes) - {"won"} <= {"Conflict", "ValidationFailed"}
    moved = _events(db, clinic, "TokenTransferred")
    assert len(moved) == ROUNDS
    assert {(e.payload["from_doctor_id"], e.payload["to_doctor_id"]) for e in moved} == {
        (first, second)
    }


@pytest.mark.timeout(120)
def test_transfer_racing_cancel_never_loses_an_update(db):
    clinic, (first, second), patients = _clinic(db, doctors=2, patients=ROUNDS)
    desk = _desk(clinic)
    for token_id in _issue(db, clinic, patients, first):
        outcomes = _race(
            db,
            clinic,
            [
                lambda s, t=token_id: transfer_token(s, desk, token_id=t, to_doctor_id=second),
                lambda s, t=token_id: cancel_token(s, desk, token_id=t),
            ],
        )
        transferred, cancelled = (o == "won" for o in outcomes)
        assert transferred or cancelled
        assert set(outcomes) - {"won"} <= {"Conflict"}
        with db.transaction(clinic.tenant_id, readonly=True) as s:
            token = s.get(QueueToken, token_id)
            types = s.scalars(
                select(QueueEvent.type)
                .where(QueueEvent.tenant_id == clinic.tenant_id, QueueEvent.token_id == token_id)
                .order_by(QueueEvent.id)
            ).all()
        # every reported success is in the row and in the log, once
        assert token.status == ("cancelled" if cancelled else "waiting")
        if transferred:
            assert token.doctor_id == second
        assert types.count("TokenTransferred") == int(transferred)
        assert types.count("TokenCancelled") == int(cancelled)


# --- allocation under concurrent issue --------------------------------------------------------


@pytest.mark.timeout(300)
def test_sixty_concurrent_issues_share_a_round_robin_department_exactly(db):
    issuers, desks = 60, 12  # twelve desks at once (PostgreSQL's connections are shared)
    clinic, doctors, patients = _clinic(db, doctors=3, patients=issuers, strategy="round_robin")
    barrier = threading.Barrier(desks, timeout=120)

    def desk(chunk):
        barrier.wait()
        return [_issue(db, clinic, [patient_id])[0] for patient_id in chunk]

    with ThreadPoolExecutor(max_workers=desks) as pool:
        chunks = [patients[i::desks] for i in range(desks)]
        ids = [token_id for mine in pool.map(desk, chunks) for token_id in mine]
    assert len(set(ids)) == issuers
    with db.transaction(clinic.tenant_id, readonly=True) as s:
        rows = s.execute(
            select(QueueToken.number, QueueToken.code, QueueToken.doctor_id)
            .where(QueueToken.tenant_id == clinic.tenant_id)
            .order_by(QueueToken.number)
        ).all()
    assert [code for _, code, _ in rows] == [f"GEN-{n:03d}" for n in range(1, issuers + 1)]
    assert Counter(d for _, _, d in rows) == {d: issuers // 3 for d in doctors}
    # each issuer saw the previous one's choice under the counter lock: a perfect cycle
    assert [d for _, _, d in rows] == [doctors[(n - 1) % 3] for n, _, _ in rows]


# --- several doctors calling one pool ---------------------------------------------------------


@pytest.mark.timeout(600)
def test_three_doctors_calling_one_pool_call_every_token_exactly_once(db):
    total = 150 if db.dialect == "postgresql" else 60
    clinic, doctors, patients = _clinic(db, doctors=3, patients=total, strategy="pool")
    token_ids = _issue(db, clinic, patients)
    barrier = threading.Barrier(len(doctors), timeout=60)
    desk = _desk(clinic, NOW + dt.timedelta(minutes=5))

    def doctor(doctor_id):
        barrier.wait()
        called = []
        while True:
            with db.transaction(clinic.tenant_id) as s:
                token = call_next(s, desk, doctor_id=doctor_id)
            if token is None:
                return called
            assert token.doctor_id == doctor_id
            called.append(token.id)

    with ThreadPoolExecutor(max_workers=len(doctors)) as pool:
        per_doctor = list(pool.map(doctor, doctors))
    called = [t for mine in per_doctor for t in mine]
    assert sorted(called) == sorted(token_ids)
    with db.transaction(clinic.tenant_id, readonly=True) as s:
        rows = s.execute(
            select(QueueToken.status, QueueToken.doctor_id).where(
                QueueToken.tenant_id == clinic.tenant_id
            )
        ).all()
        calls = Counter(
            s.scalars(
                select(QueueEvent.token_id).where(
                    QueueEvent.tenant_id == clinic.tenant_id, QueueEvent.type == "TokenCalled"
                )
            )
        )
    assert Counter(status for status, _ in rows) == {"called": total}
    assert {doctor_id for _, doctor_id in rows} <= set(doctors)
    assert len(calls) == total and set(calls.values()) == {1}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("minutes_after_issue", [0, 10], ids=["etas-unchanged", "etas-moved"])
def test_a_doctor_calling_while_another_calls_gets_a_patient_not_an_empty_queue(
    pg_db, minutes_after_issue
):
    """The first desk's call is still in flight (its ETA refresh holds row locks on the waiting
    tokens) when the second desk calls: the second waits for it rather than skipping every
    locked patient, and gets the next one."""
    db = pg_db
    clinic, (d1, d2), patients = _clinic(db, doctors=2, patients=4, strategy="pool")
    _issue(db, clinic, patients)
    desk = _desk(clinic, NOW + dt.timedelta(minutes=minutes_after_issue))
    called_first = threading.Event()

    def first_desk():
        with db.transaction(clinic.tenant_id) as s:
            token = call_next(s, desk, doctor_id=d1)
            called_first.set()
            threading.Event().wait(0.5)  # still uncommitted while the second desk calls
        return token

    def second_desk():
        assert called_first.wait(30)
        with db.transaction(clinic.tenant_id) as s:
            return call_next(s, desk, doctor_id=d2)

    with ThreadPoolExecutor(max_workers=2) as pool:
        first, second = pool.submit(first_desk), pool.submit(second_desk)
        got_first, got_second = first.result(timeout=60), second.result(timeout=60)
    assert got_first is not None and got_second is not None
    assert got_first.id != got_second.id
