"""Personas built through real core commands: a clinic with staff of every role."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy.orm import Session

from core import tenancy
from core.auth.users import actor_for, create_user
from core.context import Actor
from core.scheduling.doctors import add_weekly_schedule, create_doctor
from db.models import Branch, Department, Doctor, Patient, Tenant


@dataclass
class Clinic:
    tenant: Tenant
    branch: Branch
    department: Department
    system: Actor
    admin: Actor
    receptionist: Actor
    lab: Actor

    @property
    def tenant_id(self) -> int:
        return self.tenant.id


def make_clinic(
    session: Session, slug: str | None = None, *, timezone: str = "Asia/Kolkata"
) -> Clinic:
    """Create a clinic with one branch, one department and staff, all via core."""
    slug = slug or f"c-{uuid.uuid4().hex[:10]}"
    platform = Actor.system(None)
    tenant = tenancy.create_tenant(
        session, platform, slug=slug, name=f"Clinic {slug}", timezone=timezone
    )
    system = Actor.system(tenant.id)
    branch = tenancy.create_branch(session, system, slug="main", name="Main branch")
    dept = tenancy.create_department(
        session, system, branch_id=branch.id, code="GEN", name="General Medicine"
    )

    def staff(role: str) -> Actor:
        user = create_user(
            session,
            system,
            username=f"{role}.{slug}",
            password="correct-horse-1",
            full_name=f"{role.title()} of {slug}",
            role=role,
            branch_id=branch.id,
        )
        return actor_for(user)

    return Clinic(
        tenant,
        branch,
        dept,
        system,
        staff("clinic_admin"),
        staff("receptionist"),
        staff("lab_technician"),
    )


def add_doctor(
    session: Session,
    clinic: Clinic,
    *,
    name: str = "Dr. Asha Rao",
    fee_minor: int = 50000,
    weekdays: tuple[int, ...] = (0, 1, 2, 3, 4),
    slot_minutes: int = 30,
) -> Doctor:
    """A doctor working Mon-Fri 09:00-17:00 with lunch 13:00-14:00 (the SPEC's example)."""
    doctor = create_doctor(
        session,
        clinic.admin,
        department_id=clinic.department.id,
        full_name=name,
        specialization="General Physician",
        fee_minor=fee_minor,
        default_room="Room 1",
        default_slot_minutes=slot_minutes,
    )
    add_weekly_schedule(
        session,
        clinic.admin,
        doctor_id=doctor.id,
        branch_id=clinic.branch.id,
        weekdays=weekdays,
        start=dt.time(9),
        end=dt.time(17),
        slot_minutes=slot_minutes,
        breaks=[(dt.time(13), dt.time(14))],
    )
    return doctor


def make_patient(session: Session, clinic: Clinic, code: str = "PATX001") -> Patient:
    """A bare patient row for scheduling tests that need no registration rules."""
    patient = Patient(
        tenant_id=clinic.tenant_id, code=code, full_name="Test Patient", name_key="test patient"
    )
    session.add(patient)
    session.flush()
    return patient


# --- Queue engine helpers (shared by the tests/core/test_queue_*.py files) ---

_TEST_VAULT_KEY = "test-key"


def local(clinic: Clinic, day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    """The UTC instant of ``hour:minute`` on ``day`` on the clinic's wall clock."""
    from zoneinfo import ZoneInfo

    wall = dt.datetime.combine(day, dt.time(hour, minute), ZoneInfo(clinic.tenant.timezone))
    return wall.astimezone(dt.UTC)


def at_desk(clinic: Clinic, clock: object) -> Actor:
    """The clinic's receptionist reading time from ``clock`` (e.g. a ``FrozenClock``)."""
    import dataclasses

    return dataclasses.replace(clinic.receptionist, clock=clock)


def register_patients(
    session: Session, clinic: Clinic, n: int, prefix: str = "Patient"
) -> list[int]:
    """Register ``n`` patients through the registry (no phone, so no duplicate warnings)."""
    from core.patients.phones import PhoneVault
    from core.patients.registry import register_patient

    vault = PhoneVault(_TEST_VAULT_KEY)
    return [
        register_patient(session, clinic.system, vault=vault, full_name=f"{prefix} {i}").patient.id
        for i in range(n)
    ]


def set_queue_settings(
    session: Session,
    clinic: Clinic,
    *,
    tenant: dict[str, object] | None = None,
    department: dict[str, object] | None = None,
    strategy: str | None = None,
) -> None:
    """Set the clinic's queue knobs (an admin form in the product; no core command yet)."""
    if tenant is not None:
        clinic.tenant.settings = dict(tenant)
    if department is not None:
        clinic.department.queue_settings = dict(department)
    if strategy is not None:
        clinic.department.allocation_strategy = strategy
    session.flush()


def add_doctor_in(
    session: Session,
    clinic: Clinic,
    department: Department,
    *,
    name: str,
    slot_minutes: int = 30,
    weekdays: tuple[int, ...] = (0, 1, 2, 3, 4),
) -> Doctor:
    """A Mon-Fri 09:00-17:00 doctor (lunch 13-14) of ``department`` at its branch."""
    doctor = create_doctor(
        session,
        clinic.admin,
        department_id=department.id,
        full_name=name,
        specialization="General Physician",
        fee_minor=50000,
        default_room=f"Room {name[-1]}",
        default_slot_minutes=slot_minutes,
        branch_ids=(department.branch_id,),
    )
    add_weekly_schedule(
        session,
        clinic.admin,
        doctor_id=doctor.id,
        branch_id=department.branch_id,
        weekdays=weekdays,
        start=dt.time(9),
        end=dt.time(17),
        slot_minutes=slot_minutes,
        breaks=[(dt.time(13), dt.time(14))],
    )
    return doctor
