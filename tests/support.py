"""Personas built through real core commands: a clinic with staff of every role."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy.orm import Session

from core import tenancy
from core.auth.users import actor_for
from core.context import Actor
from core.patients.importing import PatientRow, import_patients
from core.patients.phones import PhoneVault
from db.models import Branch, Department, Doctor, Patient, Tenant
from qlink import builder
from qlink.builder import ClinicSpec, DepartmentSpec, DoctorSpec, Hours, StaffSpec


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
    built = builder.open_clinic(
        session, ClinicSpec(slug=slug, name=f"Clinic {slug}", timezone=timezone)
    )
    system, branch = built.system, built.branch
    dept = builder.add_department(
        session, system, branch_id=branch.id, spec=DepartmentSpec("GEN", "General Medicine")
    )

    def staff(role: str) -> Actor:
        spec = StaffSpec(f"{role}.{slug}", "correct-horse-1", f"{role.title()} of {slug}", role)
        return actor_for(builder.add_staff(session, system, branch_id=branch.id, spec=spec))

    return Clinic(
        built.tenant,
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
    spec = DoctorSpec(
        name,
        fee_minor=fee_minor,
        room="Room 1",
        slot_minutes=slot_minutes,
        hours=(Hours(weekdays, slot_minutes=slot_minutes),),
    )
    return builder.add_doctor(session, clinic.admin, department=clinic.department, spec=spec)


def make_patient(session: Session, clinic: Clinic, code: str = "PATX001") -> Patient:
    """A patient for tests that need no particular registration details, named by ``code``.

    Registered through core like any patient, so the stored code comes from the clinic's counter.
    """
    row = PatientRow(f"Test Patient {code}")
    vault = PhoneVault(_TEST_VAULT_KEY)
    (patient_id,) = import_patients(session, clinic.system, vault=vault, rows=[row]).ids
    patient = session.get(Patient, patient_id)
    assert patient is not None
    return patient


# --- Queue engine helpers (shared by the tests/core/test_queue_*.py files) ---

# One data key for every test: servers started by tests share their worker's database, which
# remembers the key's fingerprint, so a second key would be refused (DataKeyMismatch).
TEST_DATA_KEY = "k" * 43
_TEST_VAULT_KEY = TEST_DATA_KEY


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
    """Register ``n`` patients through the bulk import (no phone, so no duplicate warnings)."""
    rows = [PatientRow(f"{prefix} {i}") for i in range(n)]
    vault = PhoneVault(_TEST_VAULT_KEY)
    return list(import_patients(session, clinic.system, vault=vault, rows=rows).ids)


def set_queue_settings(
    session: Session,
    clinic: Clinic,
    *,
    tenant: dict[str, object] | None = None,
    department: dict[str, object] | None = None,
    strategy: str | None = None,
) -> None:
    """Set the clinic's queue knobs as its admin would."""
    admin, dept_id = clinic.admin, clinic.department.id
    if tenant is not None:
        tenancy.set_queue_settings(session, admin, settings=tenant)
    if department is not None:
        tenancy.set_queue_settings(session, admin, settings=department, department_id=dept_id)
    if strategy is not None:
        tenancy.set_allocation_strategy(session, admin, department_id=dept_id, strategy=strategy)


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
    spec = DoctorSpec(
        name,
        room=f"Room {name[-1]}",
        slot_minutes=slot_minutes,
        hours=(Hours(weekdays, slot_minutes=slot_minutes),),
    )
    return builder.add_doctor(session, clinic.admin, department=department, spec=spec)
