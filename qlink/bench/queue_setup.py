"""The ``qlink bench queue`` clinic: tenant, receptionist, departments, doctors and patients.

Setup is not measured. It creates a throwaway clinic ``bench-<hex>`` with the clinic builder
(core commands) with, per client level, ``--departments`` fresh departments (so codes start at
001 on fresh day counters and a department sees a realistic day: SPEC §6 has 3,000 tokens a
day over 10 departments), each with ``--doctors`` doctors plus one hot doctor on duty all
week, and patients from the bulk import. A warm-up department fills statement caches before
anything is measured. The clinic's rows stay: ``queue_events`` and ``audit_log`` are
append-only (triggers), so each run uses a new tenant instead of deleting.
"""

from __future__ import annotations

import datetime as dt
import itertools
import secrets
import string
from dataclasses import dataclass

from sqlalchemy.orm import Session

from core.auth.users import actor_for
from core.context import Actor
from core.patients.importing import PatientRow, import_patients
from core.patients.phones import PhoneVault
from core.queue.calling import call_next
from core.queue.issuing import issue_token
from db.engine import ALL_TENANTS, Database
from qlink import builder
from qlink.bench.common import progress
from qlink.builder import ClinicSpec, DepartmentSpec, DoctorSpec, Hours, StaffSpec

WARMUP_TOKENS = 8


@dataclass(frozen=True)
class Queue:
    """One department with its spread doctors and the hot doctor all clients call for."""

    department_id: int
    spread: tuple[int, ...]
    hot: int


@dataclass(frozen=True)
class BenchClinic:
    """The throwaway clinic: its tenant, a receptionist, patients and departments per level."""

    tenant_id: int
    slug: str
    desk: Actor
    patients: tuple[int, ...]
    levels: dict[int, tuple[Queue, ...]]


@dataclass(frozen=True)
class Shape:
    """What to measure: client levels, tokens per level, departments and doctors per level."""

    levels: tuple[int, ...]
    tokens: int
    departments: int = 8
    doctors: int = 2


def setup_clinic(database: Database, run_id: str, shape: Shape) -> BenchClinic:
    """Create the bench clinic through core, warm it up, and return it."""
    slug = f"bench-{run_id}"
    count = len(shape.levels) * shape.departments
    progress(f"setting up clinic {slug}: {count} departments, {shape.tokens} patients")
    spec = ClinicSpec(slug=slug, name=f"Benchmark {run_id}", branch_name="Bench branch")
    desk = StaffSpec("bench.desk", secrets.token_urlsafe(16), "Bench Desk", "receptionist")
    with database.transaction(ALL_TENANTS) as session:
        built = builder.open_clinic(session, spec)
        tenant, branch, system = built.tenant, built.branch, built.system
        user = builder.add_staff(session, system, branch_id=branch.id, spec=desk)
        codes = iter(f"BN{a}{b}" for a, b in itertools.product(string.ascii_uppercase, repeat=2))
        levels = {
            c: tuple(
                _queue(session, system, branch.id, next(codes), shape.doctors)
                for _ in range(shape.departments)
            )
            for c in shape.levels
        }
        warm = _queue(session, system, branch.id, "WARM", 1)
        patients = _patients(session, system, max(shape.tokens, WARMUP_TOKENS))
    clinic = BenchClinic(tenant.id, slug, actor_for(user), patients, levels)
    _warm_up(database, clinic, warm)
    return clinic


def _queue(session: Session, system: Actor, branch_id: int, code: str, doctors: int) -> Queue:
    dept = builder.add_department(
        session, system, branch_id=branch_id, spec=DepartmentSpec(code, f"Bench {code}")
    )
    ids = [
        builder.add_doctor(session, system, department=dept, spec=_doctor(f"{code} {n}")).id
        for n in range(doctors + 1)
    ]
    return Queue(dept.id, tuple(ids[1:]), ids[0])


def _doctor(name: str) -> DoctorSpec:
    """A doctor on duty around the clock, so the roster and ETAs include them all day."""
    return DoctorSpec(
        f"Dr. Bench {name}",
        specialization="Benchmark",
        fee_minor=0,
        room=f"Room {name}",
        slot_minutes=15,
        hours=(Hours(range(7), dt.time(0, 0), dt.time(23, 59), 15, breaks=()),),
    )


def _patients(session: Session, system: Actor, count: int) -> tuple[int, ...]:
    """Register fictional patients in bulk (no phones, so the key is never used)."""
    rows = [PatientRow(f"Bench Patient {n}") for n in range(1, count + 1)]
    vault = PhoneVault(secrets.token_urlsafe(16))
    return import_patients(session, system, vault=vault, rows=rows).ids


def _warm_up(database: Database, clinic: BenchClinic, queue: Queue) -> None:
    """Fill statement caches and prepared statements outside the measured phases."""
    for patient_id in clinic.patients[:WARMUP_TOKENS]:
        with database.transaction(clinic.tenant_id) as session:
            issue_token(
                session,
                clinic.desk,
                patient_id=patient_id,
                department_id=queue.department_id,
                kind="walk_in",
                doctor_id=queue.hot,
            )
    for _ in range(WARMUP_TOKENS):
        with database.transaction(clinic.tenant_id) as session:
            call_next(session, clinic.desk, doctor_id=queue.hot)
