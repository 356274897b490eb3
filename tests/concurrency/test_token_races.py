"""Token races committed for real under a fresh clinic: no duplicate, gap or double call."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from core.clock import FrozenClock
from core.queue.calling import call_next
from core.queue.issuing import issue_token
from db.models import Patient, QueueEvent, QueueToken
from tests.support import add_doctor, make_clinic

THREADS = 16
NOW = dt.datetime(2026, 12, 7, 4, 0, tzinfo=dt.UTC)


def _desk(clinic):
    return dataclasses.replace(clinic.receptionist, clock=FrozenClock(NOW))


def _clinic_with_patients(db, n):
    with db.transaction("*") as s:
        clinic = make_clinic(s)
        doctor = add_doctor(s, clinic)
        ids = []
        for i in range(n):
            patient = Patient(
                tenant_id=clinic.tenant_id,
                code=f"PATR{i:04d}",
                full_name=f"Racer {i}",
                name_key=f"racer {i}",
            )
            s.add(patient)
            s.flush()
            ids.append(patient.id)
    return clinic, doctor.id, ids


def _issue_all(db, clinic, patient_ids, doctor_id=None):
    """Issue one token per patient from THREADS threads started behind one barrier."""
    barrier = threading.Barrier(THREADS, timeout=60)
    chunks = [patient_ids[i::THREADS] for i in range(THREADS)]

    def issuer(chunk):
        barrier.wait()
        codes = []
        for patient_id in chunk:
            with db.transaction(clinic.tenant_id) as s:
                token = issue_token(
                    s,
                    _desk(clinic),
                    patient_id=patient_id,
                    department_id=clinic.department.id,
                    kind="walk_in",
                    doctor_id=doctor_id,
                )
                codes.append(token.code)
        return codes

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        return [code for codes in pool.map(issuer, chunks) for code in codes]


@pytest.mark.timeout(180)
def test_two_hundred_concurrent_issuers_get_contiguous_unique_codes(db):
    clinic, _doctor_id, patient_ids = _clinic_with_patients(db, 200)
    codes = _issue_all(db, clinic, patient_ids)
    expected = [f"GEN-{n:03d}" for n in range(1, 201)]
    assert sorted(codes) == expected
    with db.transaction(clinic.tenant_id, readonly=True) as s:
        stored = s.scalars(
            select(QueueToken.code).where(QueueToken.tenant_id == clinic.tenant_id)
        ).all()
    assert sorted(stored) == expected


@pytest.mark.timeout(300)
def test_two_callers_never_call_the_same_token(db):
    total = 500 if db.dialect == "postgresql" else 100
    clinic, doctor_id, patient_ids = _clinic_with_patients(db, total)
    _issue_all(db, clinic, patient_ids, doctor_id=doctor_id)
    barrier = threading.Barrier(2, timeout=60)
    desk = _desk(clinic)

    def caller(_n):
        barrier.wait()
        called = []
        while True:
            with db.transaction(clinic.tenant_id) as s:
                token = call_next(s, desk, doctor_id=doctor_id)
            if token is None:
                return called
            called.append(token.id)

    with ThreadPoolExecutor(max_workers=2) as pool:
        per_caller = list(pool.map(caller, range(2)))
    ids = [token_id for called in per_caller for token_id in called]
    assert len(ids) == total and len(set(ids)) == total
    with db.transaction(clinic.tenant_id, readonly=True) as s:
        statuses = Counter(
            s.scalars(select(QueueToken.status).where(QueueToken.tenant_id == clinic.tenant_id))
        )
        calls = Counter(
            s.scalars(
                select(QueueEvent.token_id).where(
                    QueueEvent.tenant_id == clinic.tenant_id, QueueEvent.type == "TokenCalled"
                )
            )
        )
    assert statuses == {"called": total}
    assert len(calls) == total and set(calls.values()) == {1}


@pytest.mark.timeout(120)
def test_one_patient_issued_from_many_desks_at_once_gets_one_token_and_no_gap(db):
    clinic, doctor_id, (patient_id, other_id) = _clinic_with_patients(db, 2)
    barrier = threading.Barrier(8, timeout=60)

    def issuer(_n):
        barrier.wait()
        with db.transaction(clinic.tenant_id) as s:
            token = issue_token(
                s,
                _desk(clinic),
                patient_id=patient_id,
                department_id=clinic.department.id,
                kind="walk_in",
                doctor_id=doctor_id,
            )
            return token.id, token.code, token.created

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(issuer, range(8)))
    assert {(i, c) for i, c, _ in outcomes} == {(outcomes[0][0], "GEN-001")}
    assert sum(created for _, _, created in outcomes) == 1
    assert _issue_all(db, clinic, [other_id] * THREADS) == ["GEN-002"] * THREADS
