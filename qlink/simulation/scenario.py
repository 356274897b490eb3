"""What a simulated clinic day is made of: its constants, the ``Scenario`` and the clinics.

The day's shape (opening hours, arrivals by hour, the mix of token kinds, no-show, recall and
lab rates, each doctor's hidden pace) lives here, with the set-up that creates each clinic
through ``core``: a tenant, a branch, departments with their allocation strategies, doctors
with a weekly schedule and a performance weight that follows their pace, and bulk patients.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select

from core import tenancy
from core.context import Actor
from core.queue.allocation import STRATEGIES
from core.scheduling.doctors import add_weekly_schedule, create_doctor
from db.engine import ALL_TENANTS, Database
from db.models import Doctor, Patient

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
    with database.transaction(ALL_TENANTS) as session:
        tenant = tenancy.create_tenant(
            session, Actor.system(None), slug=slug, name=f"Simulated clinic {index + 1}"
        )
    system = Actor.system(tenant.id)
    with database.transaction(tenant.id) as session:
        branch = tenancy.create_branch(session, system, slug="main", name="Main")
        departments = []
        for d in range(n_depts):
            strategy = STRATEGIES[(d + index) % len(STRATEGIES)]
            dept = tenancy.create_department(
                session,
                system,
                branch_id=branch.id,
                code=DEPARTMENT_CODES[d % len(DEPARTMENT_CODES)],
                name=f"Department {d + 1}",
                allocation_strategy=strategy,
            )
            departments.append((dept.id, dept.code, strategy))
        doctors, pace = [], {}
        for n in range(n_doctors):
            dept_id = departments[n % n_depts][0]
            doctor = create_doctor(
                session,
                system,
                department_id=dept_id,
                full_name=f"Dr. Simulated {index + 1}-{n + 1}",
                specialization="Simulation",
                fee_minor=50000,
                default_room=f"Room {n + 1}",
                default_slot_minutes=SLOT_MINUTES,
                branch_ids=[branch.id],
            )
            pace[doctor.id] = rng.uniform(*PACE_MINUTES)
            # the clinic weighs doctors by how quickly they see patients (rounded, as an
            # admin would set it): performance-weighted allocation follows real speed
            session.execute(
                Doctor.__table__.update()
                .where(Doctor.__table__.c.id == doctor.id)
                .values(performance_weight=round(3.0 / pace[doctor.id], 1))
            )
            add_weekly_schedule(
                session,
                system,
                doctor_id=doctor.id,
                branch_id=branch.id,
                weekdays=[day.weekday()],
                start=OPEN,
                end=CLOSE,
                slot_minutes=SLOT_MINUTES,
            )
            doctors.append((doctor.id, dept_id))
        patients = _bulk_patients(session, tenant.id, n_patients)
    return Clinic(tenant.id, slug, branch.id, departments, doctors, pace, patients)


def _bulk_patients(session: Any, tenant_id: int, n: int) -> list[int]:
    """Fictional patients inserted in bulk (registration rules are not what is measured)."""
    rows = [
        {
            "tenant_id": tenant_id,
            "code": f"SIM{i:05d}",
            "full_name": f"Sim Patient {i}",
            "name_key": f"sim patient {i}",
            "preferred_language": "en",
        }
        for i in range(1, n + 1)
    ]
    session.execute(insert(Patient), rows)
    ids = session.scalars(
        select(Patient.id).where(Patient.tenant_id == tenant_id).order_by(Patient.id)
    )
    return list(ids)
