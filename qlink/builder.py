"""One clinic builder for the tests, the demo seed, ``qlink bench`` and ``qlink simulate``.

Each step is a core command (tenancy, users, doctors and schedules, queue settings, the bulk
patient import), so whatever builds a clinic goes through the same permission checks,
validation and audit as the admin screens; nothing here writes a row itself.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from core import tenancy
from core.auth.users import create_user
from core.clinical.formulary import FormularySpec, add_formulary_medicine
from core.clinical.lab_catalogue import LabTestSpec, add_lab_test
from core.clock import Clock, system_clock
from core.context import Actor
from core.scheduling.doctors import (
    TimeRange,
    add_weekly_schedule,
    create_doctor,
    set_performance_weight,
)
from db.models import Branch, Department, Doctor, FormularyMedicine, LabTest, Tenant, User

WEEKDAYS = (0, 1, 2, 3, 4)
LUNCH: TimeRange = (dt.time(13), dt.time(14))


@dataclass(frozen=True)
class Hours:
    """A weekly working window on each of ``weekdays`` (Monday = 0)."""

    weekdays: Sequence[int] = WEEKDAYS
    start: dt.time = dt.time(9)
    end: dt.time = dt.time(17)
    slot_minutes: int = 30
    breaks: Sequence[TimeRange] = (LUNCH,)
    room: str | None = None


@dataclass(frozen=True)
class StaffSpec:
    """A login: username, password, name and role."""

    username: str
    password: str
    full_name: str
    role: str


@dataclass(frozen=True)
class DoctorSpec:
    """A doctor: profile, fee, room, weekly hours and allocation weight."""

    full_name: str
    specialization: str = "General Physician"
    fee_minor: int = 50000
    qualification: str | None = None
    room: str | None = None
    slot_minutes: int = 30
    hours: Sequence[Hours] = (Hours(),)
    performance_weight: float | None = None


@dataclass(frozen=True)
class DepartmentSpec:
    """A department with its allocation strategy and queue-setting overrides."""

    code: str
    name: str
    allocation_strategy: str = "shortest_wait"
    queue_settings: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class ClinicSpec:
    """A clinic with its first branch, optional WhatsApp number and queue settings."""

    slug: str
    name: str
    timezone: str = "Asia/Kolkata"
    branch_slug: str = "main"
    branch_name: str = "Main branch"
    address: str | None = None
    phone_number_id: str | None = None
    display_number: str | None = None
    queue_settings: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class BuiltClinic:
    """The new clinic's tenant and branch, and its system actor for further steps."""

    tenant: Tenant
    branch: Branch
    system: Actor


def open_clinic(session: Session, spec: ClinicSpec, *, clock: Clock = system_clock) -> BuiltClinic:
    """Create the clinic (a platform action) with its branch, WhatsApp route and settings."""
    tenant = tenancy.create_tenant(
        session,
        Actor.system(None, clock=clock),
        slug=spec.slug,
        name=spec.name,
        timezone=spec.timezone,
    )
    system = Actor.system(tenant.id, clock=clock)
    branch = tenancy.create_branch(
        session, system, slug=spec.branch_slug, name=spec.branch_name, address=spec.address
    )
    if spec.phone_number_id is not None:
        tenancy.register_whatsapp_number(
            session,
            system,
            phone_number_id=spec.phone_number_id,
            branch_id=branch.id,
            display_number=spec.display_number,
        )
    if spec.queue_settings is not None:
        tenancy.set_queue_settings(session, system, settings=spec.queue_settings)
    return BuiltClinic(tenant, branch, system)


def add_department(
    session: Session, actor: Actor, *, branch_id: int, spec: DepartmentSpec
) -> Department:
    """Add a department at ``branch_id`` with its strategy and queue overrides."""
    department = tenancy.create_department(
        session,
        actor,
        branch_id=branch_id,
        code=spec.code,
        name=spec.name,
        allocation_strategy=spec.allocation_strategy,
    )
    if spec.queue_settings is not None:
        tenancy.set_queue_settings(
            session, actor, settings=spec.queue_settings, department_id=department.id
        )
    return department


def add_staff(session: Session, actor: Actor, *, branch_id: int, spec: StaffSpec) -> User:
    """Create a staff login at ``branch_id``."""
    return create_user(
        session,
        actor,
        username=spec.username,
        password=spec.password,
        full_name=spec.full_name,
        role=spec.role,
        branch_id=branch_id,
    )


def add_doctor(
    session: Session, actor: Actor, *, department: Department, spec: DoctorSpec
) -> Doctor:
    """Add a doctor to ``department`` (at its branch) with weekly hours and weight."""
    doctor = create_doctor(
        session,
        actor,
        department_id=department.id,
        full_name=spec.full_name,
        specialization=spec.specialization,
        fee_minor=spec.fee_minor,
        qualification=spec.qualification,
        default_room=spec.room,
        default_slot_minutes=spec.slot_minutes,
    )
    for hours in spec.hours:
        add_weekly_schedule(
            session,
            actor,
            doctor_id=doctor.id,
            branch_id=department.branch_id,
            weekdays=hours.weekdays,
            start=hours.start,
            end=hours.end,
            slot_minutes=hours.slot_minutes,
            breaks=hours.breaks,
            room=hours.room,
        )
    if spec.performance_weight is not None:
        set_performance_weight(session, actor, doctor_id=doctor.id, weight=spec.performance_weight)
    return doctor


def add_doctor_login(
    session: Session, actor: Actor, *, doctor: Doctor, branch_id: int, login: StaffSpec
) -> User:
    """Give a doctor a login (role ``doctor``) at ``branch_id``."""
    return create_user(
        session,
        actor,
        username=login.username,
        password=login.password,
        full_name=login.full_name,
        role="doctor",
        doctor_id=doctor.id,
        branch_id=branch_id,
    )


def add_lab_tests(session: Session, actor: Actor, specs: Sequence[LabTestSpec]) -> list[LabTest]:
    """Put ``specs`` in the clinic's lab catalogue (admin or system actor)."""
    return [add_lab_test(session, actor, spec=spec) for spec in specs]


def add_formulary(
    session: Session, actor: Actor, specs: Sequence[FormularySpec]
) -> list[FormularyMedicine]:
    """Put ``specs`` in the clinic's formulary (admin or system actor)."""
    return [add_formulary_medicine(session, actor, spec=spec) for spec in specs]
