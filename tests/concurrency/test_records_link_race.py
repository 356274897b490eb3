"""First "my records" requests at once, committed for real: one generation row, every link works."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from core.patients.record_links import (
    check_generation,
    issue_records_link,
    revoke_records_links,
    verify_records_ref,
)
from db.models import PatientRecordLink
from tests.support import make_clinic, make_patient

THREADS = 8
SECRET = "race-secret"


def _patient(db):
    with db.transaction("*") as session:
        clinic = make_clinic(session)
        return clinic, make_patient(session, clinic).id


def _race(db, clinic, patient_id, work):
    barrier = threading.Barrier(THREADS, timeout=60)

    def one(n):
        barrier.wait()
        with db.transaction(clinic.tenant_id) as session:
            return work(session, n)

    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(one, range(THREADS)))


def _rows(db, tenant_id, patient_id):
    with db.transaction(tenant_id, readonly=True) as session:
        return session.execute(
            select(func.count(), func.max(PatientRecordLink.generation)).where(
                PatientRecordLink.tenant_id == tenant_id,
                PatientRecordLink.patient_id == patient_id,
            )
        ).one()


def test_simultaneous_first_links_for_one_patient_share_one_generation_row(pg_db):
    clinic, patient_id = _patient(pg_db)
    links = _race(
        pg_db,
        clinic,
        patient_id,
        lambda s, n: issue_records_link(
            s, clinic.receptionist, patient_id=patient_id, secret=SECRET
        ),
    )
    assert tuple(_rows(pg_db, clinic.tenant_id, patient_id)) == (1, 1)
    with pg_db.transaction(clinic.tenant_id, readonly=True) as session:
        for link in links:
            check_generation(session, verify_records_ref(SECRET, link, now=clinic.system.clock()))


def test_simultaneous_first_revocations_each_raise_the_generation_once(pg_db):
    clinic, patient_id = _patient(pg_db)
    generations = _race(
        pg_db,
        clinic,
        patient_id,
        lambda s, n: revoke_records_links(s, clinic.admin, patient_id=patient_id),
    )
    assert sorted(generations) == list(range(2, THREADS + 2))
    assert tuple(_rows(pg_db, clinic.tenant_id, patient_id)) == (1, THREADS + 1)
