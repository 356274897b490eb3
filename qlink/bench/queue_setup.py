"""The ``qlink bench queue`` clinic: tenant, receptionist, departments, doctors and patients.

Setup is not measured. It creates a throwaway clinic ``bench-<hex>`` through core with, per
client level, ``--departments`` fresh departments (so codes start at 001 on fresh day counters
and a department sees a realistic day: SPEC §6 has 3,000 tokens a day over 10 departments),
each with ``--doctors`` doctors plus one hot doctor on duty all week, and bulk-inserted
patients. A warm-up department fills statement caches before anything is measured. The
clinic's rows stay: ``queue_events`` and ``audit_log`` are append-only (triggers), so each run
uses a new tenant instead of deleting.
"""

from __future__ import annotations

import datetime as dt
import itertools
import secrets
import string
from dataclasses import dataclass

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from core import tenancy
from core.auth.users import actor_for, create_user
from core.context import Actor
from core.queue.calling import call_next
from core.queue.issuing import issue_token
from core.scheduling.doctors import add_weekly_schedule, create_doctor
from db.engine import ALL_TENANTS, Database
from db.models import Patient
from qlink.bench.common import progress

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
    with database.transaction(ALL_TENANTS) as session:
        tenant = tenancy.create_tenant(
            session, Actor.system(None), slug=slug, name=f"Benchmark {run_id}"
        )
        system = Actor.system(tenant.id)
        branch = tenancy.create_branch(session, system, slug="main", name="Bench branch")
        user = create_user(
            session,
            system,
            username="bench.desk",
            password=secrets.token_urlsafe(16),
            full_name="Bench Desk",
            role="receptionist",
            branch_id=branch.id,
        )
        codes = iter(f"BN{a}{b}" for a, b in itertools.product(string.ascii_uppercase, repeat=2))
        levels = {
            c: tuple(
                _queue(session, system, branch.id, next(codes), shape.doctors)
                for _ in range(shape.departments)
            )
            for c in shape.levels
        }
        warm = _queue(session, system, branch.id, "WARM", 1)
        patients = _patients(session, tenant.id, max(shape.tokens, WARMUP_TOKENS))
    clinic = BenchClinic(tenant.id, slug, actor_for(user), patients, levels)
    _warm_up(database, clinic, warm)
    return clinic


def _queue(session: Session, system: Actor, branch_id: int, code: str, doctors: int) -> Queue:
    dept = tenancy.create_department(
        session, system, branch_id=branch_id, code=code, name=f"Bench {code}"
    )
    ids = [_doctor(session, system, dept.id, branch_id, f"{code} {n}") for n in range(doctors + 1)]
    return Queue(dept.id, tuple(ids[1:]), ids[0])


def _doctor(session: Session, system: Actor, department_id: int, branch_id: int, name: str) -> int:
    """A doctor on duty around the clock, so the roster and ETAs include them all day."""
    doctor = create_doctor(
        session,
        system,
        department_id=department_id,
        full_name=f"Dr. Bench {name}",
        specialization="Benchmark",
        fee_minor=0,
        default_room=f"Room {name}",
    )
    add_weekly_schedule(
        session,
        system,
        doctor_id=doctor.id,
        branch_id=branch_id,
        weekdays=range(7),
        start=dt.time(0, 0),
        end=dt.time(23, 59),
        slot_minutes=15,
    )
    return doctor.id


def _patients(session: Session, tenant_id: int, count: int) -> tuple[int, ...]:
    """Bulk-insert bare patients (no phone, so no vault needed); return their ids in order."""
    rows = [
        {
            "tenant_id": tenant_id,
            "code": f"PATB{n:06d}",
            "full_name": f"Bench Patient {n}",
            "name_key": f"bench patient {n}",
        }
        for n in range(1, count + 1)
    ]
    session.execute(insert(Patient), rows)
    ids = select(Patient.id).where(Patient.tenant_id == tenant_id).order_by(Patient.id)
    return tuple(session.scalars(ids))


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
