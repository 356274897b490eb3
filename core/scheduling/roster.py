"""The admin's view and edits of doctors: the list, their weekly hours and leaves, and edits."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit
from core.auth.permissions import require
from core.context import Actor, tenant_of
from core.errors import ValidationFailed
from core.scheduling.doctors import access_doctor
from db.models import Doctor, DoctorLeave, DoctorSchedule


@dataclass(frozen=True)
class DoctorRow:
    id: int
    full_name: str
    specialization: str
    department_id: int
    fee_minor: int
    default_room: str | None
    active: bool


@dataclass(frozen=True)
class WindowRow:
    id: int
    branch_id: int
    weekday: int
    start: dt.time
    end: dt.time
    slot_minutes: int
    capacity: int


@dataclass(frozen=True)
class LeaveRow:
    id: int
    start_date: dt.date
    end_date: dt.date
    start_time: dt.time | None
    end_time: dt.time | None
    reason: str | None


def list_doctors(session: Session, actor: Actor) -> list[DoctorRow]:
    """Return the clinic's doctors (inactive ones too), by name."""
    require(actor, "schedule.read")
    tenant_id = tenant_of(session, actor)
    rows = session.scalars(
        select(Doctor).where(Doctor.tenant_id == tenant_id).order_by(Doctor.full_name)
    )
    return [_doctor_row(d) for d in rows]


def edit_doctor(
    session: Session,
    actor: Actor,
    *,
    doctor_id: int,
    full_name: str,
    specialization: str,
    fee_minor: int,
    default_room: str | None = None,
    active: bool = True,
) -> DoctorRow:
    """Change a doctor's name, speciality, fee or room, or retire them (inactive)."""
    require(actor, "doctor.write")
    doctor = access_doctor(session, actor, doctor_id)
    if not full_name.strip():
        raise ValidationFailed("Doctor name is required", field="full_name")
    if isinstance(fee_minor, bool) or fee_minor < 0:
        raise ValidationFailed("Fee cannot be negative", field="fee_minor")
    doctor.full_name, doctor.specialization = full_name.strip(), specialization.strip()
    doctor.fee_minor, doctor.default_room, doctor.active = fee_minor, default_room, active
    session.flush()
    audit.record(
        session,
        actor,
        "doctor.edit",
        entity="doctor",
        entity_id=doctor.id,
        detail={"active": active},
    )
    return _doctor_row(doctor)


def doctor_hours(session: Session, actor: Actor, *, doctor_id: int) -> list[WindowRow]:
    """Return a doctor's active weekly windows, Monday first."""
    require(actor, "schedule.read")
    doctor = access_doctor(session, actor, doctor_id)
    rows = session.scalars(
        select(DoctorSchedule)
        .where(
            DoctorSchedule.tenant_id == doctor.tenant_id,
            DoctorSchedule.doctor_id == doctor.id,
            DoctorSchedule.active.is_(True),
        )
        .order_by(DoctorSchedule.weekday, DoctorSchedule.start_time)
    )
    return [
        WindowRow(
            w.id, w.branch_id, w.weekday, w.start_time, w.end_time, w.slot_minutes, w.capacity
        )
        for w in rows
    ]


def doctor_leaves(
    session: Session, actor: Actor, *, doctor_id: int, since: dt.date
) -> list[LeaveRow]:
    """Return a doctor's leaves ending on or after ``since``, soonest first."""
    require(actor, "schedule.read")
    doctor = access_doctor(session, actor, doctor_id)
    rows = session.scalars(
        select(DoctorLeave)
        .where(
            DoctorLeave.tenant_id == doctor.tenant_id,
            DoctorLeave.doctor_id == doctor.id,
            DoctorLeave.end_date >= since,
        )
        .order_by(DoctorLeave.start_date)
    )
    return [
        LeaveRow(v.id, v.start_date, v.end_date, v.start_time, v.end_time, v.reason) for v in rows
    ]


def _doctor_row(d: Doctor) -> DoctorRow:
    return DoctorRow(
        d.id, d.full_name, d.specialization, d.department_id, d.fee_minor, d.default_room, d.active
    )
