"""Patient codes under concurrent registration: distinct, gap-free, committed for real."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import select

from core.patients import PhoneVault, register_patient
from db.models import Patient
from tests.support import make_clinic

THREADS = 20
VAULT = PhoneVault("race-data-key")


class DeliberateFailure(Exception):
    """Raised inside a transaction to force its rollback after a code was drawn."""


def _fresh_clinic(db):
    with db.transaction("*") as session:
        return make_clinic(session)


def _register_all(db, clinic, *, fail=frozenset()):
    barrier = threading.Barrier(THREADS, timeout=60)

    def register(n):
        barrier.wait()
        try:
            with db.transaction(clinic.tenant_id) as session:
                code = register_patient(
                    session,
                    clinic.receptionist,
                    vault=VAULT,
                    full_name=f"Racer {n}",
                    phone=f"98765 {n:05d}",
                ).patient.code
                if n in fail:
                    raise DeliberateFailure
                return code
        except DeliberateFailure:
            return None

    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(register, range(THREADS)))


def _stored_codes(db, tenant_id):
    with db.transaction(tenant_id, readonly=True) as session:
        return sorted(session.scalars(select(Patient.code).where(Patient.tenant_id == tenant_id)))


def test_twenty_simultaneous_registrations_get_codes_one_to_twenty(db):
    clinic = _fresh_clinic(db)
    codes = _register_all(db, clinic)
    expected = [f"PAT{n:04d}" for n in range(1, THREADS + 1)]
    assert sorted(codes) == expected
    assert _stored_codes(db, clinic.tenant_id) == expected


def test_rolled_back_registrations_leave_no_gap(db):
    clinic = _fresh_clinic(db)
    codes = _register_all(db, clinic, fail=frozenset({3, 7, 11, 19}))
    committed = sorted(c for c in codes if c is not None)
    expected = [f"PAT{n:04d}" for n in range(1, THREADS - 4 + 1)]
    assert committed == expected
    assert _stored_codes(db, clinic.tenant_id) == expected
