"""Configure a demo clinic through core services: tenant, branch, doctors, staff, plan."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import tenancy
from core.auth.users import create_user
from core.clock import Clock
from core.context import Actor
from core.scheduling.doctors import add_leave, add_weekly_schedule, create_doctor
from db.models import Plan, Subscription, User
from qlink.seed.clinics import (
    DOCTOR_PASSWORD,
    LUNCH,
    PLANS,
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


def ensure_plans(session: Session) -> None:
    """Create the Starter, Growth and Hospital plans that do not exist yet."""
    existing = set(session.scalars(select(Plan.code)))
    for p in PLANS:
        if p.code not in existing:
            session.add(
                Plan(
                    code=p.code,
                    name=p.name,
                    monthly_price_minor=p.monthly_rupees * 100,
                    message_quota=p.message_quota,
                    token_daily_cap=p.token_daily_cap,
                    max_doctors=p.max_doctors,
                    features={"bi": p.code != "starter"},
                )
            )
    session.flush()


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


def subscribe(session: Session, tenant_id: int, plan_code: str, today: dt.date) -> None:
    """Put the clinic on ``plan_code``, four months in, billed monthly."""
    plan_id = session.scalar(select(Plan.id).where(Plan.code == plan_code))
    started = today - dt.timedelta(days=120)
    period_end = started + dt.timedelta(days=30 * (120 // 30 + 1))
    session.add(
        Subscription(
            tenant_id=tenant_id,
            plan_id=plan_id,
            status="active",
            started_on=started,
            current_period_end=period_end,
        )
    )
    session.flush()


def build_clinic(
    session: Session, spec: ClinicSpec, *, clock: Clock, today: dt.date, zone: str
) -> BuiltClinic:
    """Create the clinic of ``spec`` with its branch, WhatsApp number, staff and doctors."""
    tenant = tenancy.create_tenant(
        session, Actor.system(None, clock=clock), slug=spec.slug, name=spec.name, timezone=zone
    )
    actor = Actor.system(tenant.id, clock=clock)
    branch = tenancy.create_branch(
        session, actor, slug=spec.branch_slug, name=spec.branch_name, address=spec.address
    )
    tenancy.register_whatsapp_number(
        session,
        actor,
        phone_number_id=spec.phone_number_id,
        branch_id=branch.id,
        display_number=spec.display_number,
    )
    staff = {
        s.role: create_user(
            session,
            actor,
            username=s.username,
            password=s.password,
            full_name=s.full_name,
            role=s.role,
            branch_id=branch.id,
        ).id
        for s in spec.staff
    }
    departments: dict[str, int] = {}
    doctors = tuple(
        _doctor(session, actor, branch.id, (i, d), departments, _leave_days(spec, d, today))
        for i, d in enumerate(spec.doctors)
    )
    for leave in spec.leaves:
        _add_leave(session, actor, doctors, spec, leave, today)
    return BuiltClinic(tenant.id, branch.id, ZoneInfo(zone), doctors, staff["receptionist"])


def _doctor(
    session: Session,
    actor: Actor,
    branch_id: int,
    indexed: tuple[int, DoctorSpec],
    departments: dict[str, int],
    leave: frozenset[dt.date],
) -> SeededDoctor:
    index, d = indexed
    if d.dept_code not in departments:
        departments[d.dept_code] = tenancy.create_department(
            session, actor, branch_id=branch_id, code=d.dept_code, name=d.dept_name
        ).id
    doctor = create_doctor(
        session,
        actor,
        department_id=departments[d.dept_code],
        full_name=d.full_name,
        specialization=d.specialization,
        fee_minor=d.fee_rupees * 100,
        qualification=d.qualification,
        default_room=d.room,
        default_slot_minutes=d.windows[0].slot_minutes,
    )
    for w in d.windows:
        add_weekly_schedule(
            session,
            actor,
            doctor_id=doctor.id,
            branch_id=branch_id,
            weekdays=w.weekdays,
            start=w.start,
            end=w.end,
            slot_minutes=w.slot_minutes,
            breaks=[LUNCH] if w.lunch else [],
            room=d.room,
        )
    user = create_user(
        session,
        actor,
        username=d.username,
        password=DOCTOR_PASSWORD,
        full_name=d.full_name,
        role="doctor",
        doctor_id=doctor.id,
        branch_id=branch_id,
    )
    return SeededDoctor(
        doctor.id,
        doctor.full_name,
        doctor.department_id,
        user.id,
        doctor.fee_minor,
        d.room,
        _plan(index, d, leave),
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
