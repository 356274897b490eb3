"""What a simulated clinic day is made of: its constants, the ``Scenario`` and the clinics.

The day's shape (opening hours, arrivals by hour, the mix of token kinds, no-show, recall and
lab rates, each doctor's hidden pace) lives here, with the set-up that creates each clinic
with the clinic builder (core commands): a tenant, a branch, departments with their
allocation strategies, doctors with a weekly schedule and a performance weight that follows
their pace, and patients through the bulk import.
"""

from __future__ import annotations

import datetime as dt
import random
import secrets
import uuid
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from core.context import Actor
from core.patients.importing import PatientRow, import_patients
from core.patients.phones import PhoneVault
from core.queue.allocation import STRATEGIES
from db.engine import ALL_TENANTS, Database
from db.models import Department
from qlink import builder
from qlink.builder import ClinicSpec, DepartmentSpec, DoctorSpec, Hours

ZONE = ZoneInfo("Asia/Kolkata")
OPEN, LAST_ARRIVAL, CLOSE = dt.time(8), dt.time(18), dt.time(21)
ARRIVALS_BY_HOUR = {8: 4, 9: 9, 10: 13, 11: 13, 12: 10, 13: 6, 14: 8, 15: 8, 16: 6, 17: 4}
KIND_MIX = {
    "walk_in": 50,
    "booked": 20,
    "follow_up": 12,
    "priority": 7,
    "vip": 4,
    "lab_return": 4,
    "emergency": 3,
}
DEPARTMENT_CODES = [
    "GEN",
    "PED",
    "ORT",
    "GYN",
    "DER",
    "ENT",
    "OPH",
    "CAR",
    "NEU",
    "PSY",
    "URO",
    "PUL",
    "GAS",
    "END",
    "NEP",
    "ONC",
    "RHE",
    "HEM",
]
SLOT_MINUTES = 10  # booking grid; the EWT's fallback before a doctor's first consultation
NO_SHOW_RATE = 0.05
RECALL_RATE = 0.5
LAB_RATE = 0.08
NAMED_DOCTOR_RATE = 0.6
MISS_AFTER = dt.timedelta(minutes=2)
WAKE_EVERY = dt.timedelta(minutes=5)  # idle doctors also look again now and then
PACE_MINUTES = (2.0, 3.5)  # each doctor's hidden mean consultation length is drawn from this


@dataclass(frozen=True)
class Scenario:
    """What to simulate."""

    tokens: int = 3000
    doctors: int = 20
    departments: int = 10
    tenants: int = 2
    seed: int = 7
    issuers: int = 8
    tick_seconds: int = 30


@dataclass
class Clinic:
    tenant_id: int
    slug: str
    branch_id: int
    departments: list[tuple[int, str, str]]  # id, code, strategy
    doctors: list[tuple[int, int]]  # doctor id, department id
    pace: dict[int, float]  # hidden mean consultation minutes per doctor
    patients: list[int]


def service_day() -> dt.date:
    """A Monday at least a week ahead (fresh clinics, so any future day is empty)."""
    today = dt.date.today()
    return today + dt.timedelta(days=7 + (7 - today.weekday()) % 7)


def instant(day: dt.date, clock: dt.time) -> dt.datetime:
    return dt.datetime.combine(day, clock, ZONE).astimezone(dt.UTC)


def split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def setup_clinic(
    database: Database, scenario: Scenario, index: int, rng: random.Random, day: dt.date
) -> Clinic:
    """Create one clinic with departments, doctors (schedules) and patients via core."""
    slug = f"sim-{uuid.uuid4().hex[:8]}-{index}"
    n_depts = max(1, split(scenario.departments, scenario.tenants)[index])
    n_doctors = max(n_depts, split(scenario.doctors, scenario.tenants)[index])
    n_patients = split(scenario.tokens, scenario.tenants)[index] + 50
    spec = ClinicSpec(slug=slug, name=f"Simulated clinic {index + 1}", branch_name="Main")
    with database.transaction(ALL_TENANTS) as session:
        built = builder.open_clinic(session, spec)
        tenant_id, branch_id = built.tenant.id, built.branch.id
    system = Actor.system(tenant_id)
    with database.transaction(tenant_id) as session:
        departments = [_department(session, system, branch_id, index, d) for d in range(n_depts)]
        doctors, pace = [], {}
        for n in range(n_doctors):
            dept = departments[n % n_depts]
            doctor_pace = rng.uniform(*PACE_MINUTES)
            doctor = builder.add_doctor(
                session, system, department=dept, spec=_doctor(index, n, doctor_pace, day)
            )
            pace[doctor.id] = doctor_pace
            doctors.append((doctor.id, dept.id))
        patients = _patients(session, system, n_patients)
        strategies = [(d.id, d.code, d.allocation_strategy) for d in departments]
    return Clinic(tenant_id, slug, branch_id, strategies, doctors, pace, patients)


def _department(session: Session, system: Actor, branch_id: int, index: int, d: int) -> Department:
    spec = DepartmentSpec(
        DEPARTMENT_CODES[d % len(DEPARTMENT_CODES)],
        f"Department {d + 1}",
        allocation_strategy=STRATEGIES[(d + index) % len(STRATEGIES)],
    )
    return builder.add_department(session, system, branch_id=branch_id, spec=spec)


def _doctor(index: int, n: int, pace: float, day: dt.date) -> DoctorSpec:
    # the clinic weighs doctors by how quickly they see patients (rounded, as an admin would
    # set it): performance-weighted allocation follows real speed
    return DoctorSpec(
        f"Dr. Simulated {index + 1}-{n + 1}",
        specialization="Simulation",
        room=f"Room {n + 1}",
        slot_minutes=SLOT_MINUTES,
        hours=(Hours((day.weekday(),), OPEN, CLOSE, SLOT_MINUTES, breaks=()),),
        performance_weight=round(3.0 / pace, 1),
    )


def _patients(session: Session, system: Actor, n: int) -> list[int]:
    """Fictional patients registered through the bulk import (no phones, so the key is unused)."""
    rows = [PatientRow(f"Sim Patient {i}") for i in range(1, n + 1)]
    vault = PhoneVault(secrets.token_urlsafe(16))
    return list(import_patients(session, system, vault=vault, rows=rows).ids)
