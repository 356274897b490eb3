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
