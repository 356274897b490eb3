"""Configure a demo clinic through core services: tenant, branch, doctors, staff, plan."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.auth.users import create_user
from core.clock import Clock
from core.context import Actor
from core.scheduling.doctors import add_leave
from db.models import Department, User
from qlink import builder
from qlink.seed.clinics import (
    DOCTOR_PASSWORD,
    LUNCH,
    PLATFORM_ADMIN,
    ClinicSpec,
    DoctorSpec,
    LeaveSpec,
)
from qlink.seed.history import Clinic, SeededDoctor
from qlink.seed.patients import SeedPatient
from qlink.seed.plans import DayWindow, DoctorPlan


@dataclass(frozen=True)
class BuiltClinic:
    tenant_id: int
    branch_id: int
    zone: ZoneInfo
    doctors: tuple[SeededDoctor, ...]
    reception_id: int

    def desk(self, clock: Clock) -> Actor:
        """Return the clinic's receptionist as an actor (bookings are audited as the desk)."""
        return Actor(
            self.reception_id,
            self.tenant_id,
            "receptionist",
            "receptionist:seed",
            branch_id=self.branch_id,
            clock=clock,
        )

    def history_clinic(self, patients: Sequence[SeedPatient]) -> Clinic:
        return Clinic(
            self.tenant_id, self.branch_id, self.zone, self.doctors, self.reception_id, patients
        )


def ensure_platform_admin(session: Session, platform: Actor) -> None:
    """Create the demo platform operator login unless it exists."""
    taken = session.scalar(
        select(User.id).where(User.tenant_id.is_(None), User.username == PLATFORM_ADMIN.username)
    )
    if taken is None:
        create_user(
            session,
            platform,
            username=PLATFORM_ADMIN.username,
            password=PLATFORM_ADMIN.password,
            full_name=PLATFORM_ADMIN.full_name,
            role=PLATFORM_ADMIN.role,
        )


def build_clinic(
    session: Session, spec: ClinicSpec, *, clock: Clock, today: dt.date, zone: str
) -> BuiltClinic:
    """Create the clinic of ``spec`` with its branch, WhatsApp number, staff and doctors."""
    built = builder.open_clinic(session, _clinic_spec(spec, zone), clock=clock)
    actor, branch_id = built.system, built.branch.id
    staff = {
        s.role: builder.add_staff(
            session,
            actor,
            branch_id=branch_id,
            spec=builder.StaffSpec(s.username, s.password, s.full_name, s.role),
        ).id
        for s in spec.staff
    }
    departments: dict[str, Department] = {}
    doctors = tuple(
        _doctor(session, actor, branch_id, (i, d), departments, _leave_days(spec, d, today))
        for i, d in enumerate(spec.doctors)
    )
    for leave in spec.leaves:
        _add_leave(session, actor, doctors, spec, leave, today)
    return BuiltClinic(built.tenant.id, branch_id, ZoneInfo(zone), doctors, staff["receptionist"])


def _clinic_spec(spec: ClinicSpec, zone: str) -> builder.ClinicSpec:
    return builder.ClinicSpec(
        slug=spec.slug,
        name=spec.name,
        timezone=zone,
        branch_slug=spec.branch_slug,
        branch_name=spec.branch_name,
        address=spec.address,
        phone_number_id=spec.phone_number_id,
        display_number=spec.display_number,
    )


def _doctor(
    session: Session,
    actor: Actor,
    branch_id: int,
    indexed: tuple[int, DoctorSpec],
    departments: dict[str, Department],
    leave: frozenset[dt.date],
) -> SeededDoctor:
    index, d = indexed
    if d.dept_code not in departments:
        departments[d.dept_code] = builder.add_department(
            session,
            actor,
            branch_id=branch_id,
            spec=builder.DepartmentSpec(d.dept_code, d.dept_name),
        )
    doctor = builder.add_doctor(
        session, actor, department=departments[d.dept_code], spec=_doctor_spec(d)
    )
    login = builder.StaffSpec(d.username, DOCTOR_PASSWORD, d.full_name, "doctor")
    user = builder.add_doctor_login(session, actor, doctor=doctor, branch_id=branch_id, login=login)
    return SeededDoctor(
        doctor.id,
        doctor.full_name,
        doctor.department_id,
        user.id,
        doctor.fee_minor,
        d.room,
        _plan(index, d, leave),
    )


def _doctor_spec(d: DoctorSpec) -> builder.DoctorSpec:
    hours = tuple(
        builder.Hours(
            w.weekdays,
            w.start,
            w.end,
            w.slot_minutes,
            breaks=[LUNCH] if w.lunch else [],
            room=d.room,
        )
        for w in d.windows
    )
    return builder.DoctorSpec(
        d.full_name,
        specialization=d.specialization,
        fee_minor=d.fee_rupees * 100,
        qualification=d.qualification,
        room=d.room,
        slot_minutes=d.windows[0].slot_minutes,
        hours=hours,
    )


def _plan(index: int, d: DoctorSpec, leave: frozenset[dt.date]) -> DoctorPlan:
    windows: dict[int, tuple[DayWindow, ...]] = {}
    for w in d.windows:
        breaks = ((_minutes(LUNCH[0]), _minutes(LUNCH[1])),) if w.lunch else ()
        day_window = DayWindow(_minutes(w.start), _minutes(w.end), w.slot_minutes, breaks)
        for weekday in w.weekdays:
            windows[weekday] = (*windows.get(weekday, ()), day_window)
    return DoctorPlan(index, d.dept_code, d.daily_patients, windows, leave)


def _minutes(t: dt.time) -> int:
    return t.hour * 60 + t.minute


def _leave_days(spec: ClinicSpec, d: DoctorSpec, today: dt.date) -> frozenset[dt.date]:
    return frozenset(
        today + dt.timedelta(days=leave.first_day + n)
        for leave in spec.leaves
        if leave.dept_code == d.dept_code
        for n in range(leave.days)
    )


def _add_leave(
    session: Session,
    actor: Actor,
    doctors: tuple[SeededDoctor, ...],
    spec: ClinicSpec,
    leave: LeaveSpec,
    today: dt.date,
) -> None:
    doctor = next(
        doc for doc, d in zip(doctors, spec.doctors, strict=True) if d.dept_code == leave.dept_code
    )
    first = today + dt.timedelta(days=leave.first_day)
    add_leave(
        session,
        actor,
        doctor_id=doctor.id,
        start_date=first,
        end_date=first + dt.timedelta(days=leave.days - 1),
        reason=leave.reason,
    )
