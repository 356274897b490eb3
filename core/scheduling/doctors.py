"""Doctors, their branches, weekly schedules with breaks, leaves and per-day overrides."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit
from core.auth.permissions import require
from core.context import Actor, load_owned, tenant_of
from core.errors import ScheduleOverlap, ValidationFailed
from core.tenancy import access_branch, access_department
from db.models import (
    Doctor,
    DoctorBranch,
    DoctorLeave,
    DoctorSchedule,
    ScheduleBreak,
    ScheduleOverride,
)

TimeRange = tuple[dt.time, dt.time]
MIN_WEIGHT, MAX_WEIGHT = 0.1, 10.0  # NaN and infinity fail the range check too


def create_doctor(
    session: Session,
    actor: Actor,
    *,
    department_id: int,
    full_name: str,
    specialization: str,
    fee_minor: int,
    qualification: str | None = None,
    default_room: str | None = None,
    default_slot_minutes: int = 15,
    branch_ids: Sequence[int] = (),
) -> Doctor:
    """Add a doctor to a department and the branches they practise at."""
    require(actor, "doctor.write")
    tenant_id = tenant_of(session, actor)
    dept = access_department(session, actor, department_id)
    if not full_name.strip():
        raise ValidationFailed("Doctor name is required", field="full_name")
    if fee_minor < 0:
        raise ValidationFailed("Fee cannot be negative", field="fee_minor")
    _check_slot_minutes(default_slot_minutes)
    doctor = Doctor(
        tenant_id=tenant_id,
        department_id=dept.id,
        full_name=full_name.strip(),
        specialization=specialization.strip(),
        qualification=qualification,
        fee_minor=fee_minor,
        default_room=default_room,
        default_slot_minutes=default_slot_minutes,
    )
    session.add(doctor)
    session.flush()
    for branch_id in branch_ids or (dept.branch_id,):
        assign_branch(session, actor, doctor_id=doctor.id, branch_id=branch_id, room=default_room)
    audit.record(session, actor, "doctor.create", entity="doctor", entity_id=doctor.id)
    return doctor


def assign_branch(
    session: Session, actor: Actor, *, doctor_id: int, branch_id: int, room: str | None = None
) -> DoctorBranch:
    """Let a doctor practise at a branch (idempotent)."""
    require(actor, "doctor.write")
    tenant_id = tenant_of(session, actor)
    access_doctor(session, actor, doctor_id)
    access_branch(session, actor, branch_id)
    link = session.scalar(
        select(DoctorBranch).where(
            DoctorBranch.tenant_id == tenant_id,
            DoctorBranch.doctor_id == doctor_id,
            DoctorBranch.branch_id == branch_id,
        )
    )
    if link is None:
        link = DoctorBranch(tenant_id=tenant_id, doctor_id=doctor_id, branch_id=branch_id)
        session.add(link)
    link.room = room
    session.flush()
    return link


def set_performance_weight(
    session: Session, actor: Actor, *, doctor_id: int, weight: float
) -> Doctor:
    """Set the share of tokens a ``performance_weighted`` department gives the doctor."""
    require(actor, "doctor.write")
    doctor = access_doctor(session, actor, doctor_id)
    if isinstance(weight, bool) or not isinstance(weight, int | float):
        raise ValidationFailed("Performance weight must be a number", field="performance_weight")
    if not MIN_WEIGHT <= weight <= MAX_WEIGHT:
        raise ValidationFailed(
            f"Performance weight must be {MIN_WEIGHT} to {MAX_WEIGHT}", field="performance_weight"
        )
    doctor.performance_weight = float(weight)
    session.flush()
    audit.record(
        session,
        actor,
        "doctor.update",
        entity="doctor",
        entity_id=doctor.id,
        detail={"fields": ["performance_weight"]},
    )
    return doctor


def access_doctor(session: Session, actor: Actor, doctor_id: int) -> Doctor:
    """Fetch a doctor of the actor's clinic, or raise ``NotFound``."""
    return load_owned(session, actor, Doctor, doctor_id, "Doctor")


def add_weekly_schedule(
    session: Session,
    actor: Actor,
    *,
    doctor_id: int,
    branch_id: int,
    weekdays: Sequence[int],
    start: dt.time,
    end: dt.time,
    slot_minutes: int,
    breaks: Sequence[TimeRange] = (),
    capacity: int = 1,
    room: str | None = None,
) -> list[DoctorSchedule]:
    """Add one working window (with breaks) on each of ``weekdays`` (Monday = 0).

    Rejects a window that overlaps an existing one of the same doctor on that weekday, at any
    branch: a doctor cannot be in two places at once.
    """
    require(actor, "schedule.write")
    tenant_id = tenant_of(session, actor)
    access_doctor(session, actor, doctor_id)
    access_branch(session, actor, branch_id)
    _check_window(start, end, slot_minutes, breaks, capacity, weekdays)
    rows = []
    for weekday in sorted(set(weekdays)):
        _reject_overlap(session, tenant_id, doctor_id, weekday, start, end)
        row = DoctorSchedule(
            tenant_id=tenant_id,
            doctor_id=doctor_id,
            branch_id=branch_id,
            weekday=weekday,
            start_time=start,
            end_time=end,
            slot_minutes=slot_minutes,
            capacity=capacity,
            room=room,
        )
        session.add(row)
        session.flush()
        for b_start, b_end in breaks:
            session.add(
                ScheduleBreak(
                    tenant_id=tenant_id,
                    schedule_id=row.id,
                    start_time=b_start,
                    end_time=b_end,
                    label="Break",
                )
            )
        rows.append(row)
    session.flush()
    audit.record(
        session,
        actor,
        "schedule.add",
        entity="doctor",
        entity_id=doctor_id,
        detail={"weekdays": sorted(set(weekdays)), "branch_id": branch_id},
    )
    return rows


def add_leave(
    session: Session,
    actor: Actor,
    *,
    doctor_id: int,
    start_date: dt.date,
    end_date: dt.date,
    start_time: dt.time | None = None,
    end_time: dt.time | None = None,
    reason: str | None = None,
) -> DoctorLeave:
    """Mark a doctor unavailable for whole days, or for a time range on those days."""
    require(actor, "schedule.write")
    tenant_id = tenant_of(session, actor)
    access_doctor(session, actor, doctor_id)
    if end_date < start_date:
        raise ValidationFailed("Leave ends before it starts", field="end_date")
    if (start_time is None) != (end_time is None) or (
        start_time and end_time and start_time >= end_time
    ):
        raise ValidationFailed("Give both start and end time, start before end", field="end_time")
    leave = DoctorLeave(
        tenant_id=tenant_id,
        doctor_id=doctor_id,
        start_date=start_date,
        end_date=end_date,
        start_time=start_time,
        end_time=end_time,
        reason=reason,
        created_by=actor.user_id,
    )
    session.add(leave)
    session.flush()
    audit.record(
        session,
        actor,
        "leave.add",
        entity="doctor",
        entity_id=doctor_id,
        detail={"from": start_date.isoformat(), "to": end_date.isoformat()},
    )
    return leave


def set_override(
    session: Session,
    actor: Actor,
    *,
    doctor_id: int,
    branch_id: int,
    on_date: dt.date,
    start: dt.time,
    end: dt.time,
    slot_minutes: int,
    breaks: Sequence[TimeRange] = (),
    capacity: int = 1,
    room: str | None = None,
) -> ScheduleOverride:
    """Replace the weekly schedule at a branch for one date (create or update)."""
    require(actor, "schedule.write")
    tenant_id = tenant_of(session, actor)
    access_doctor(session, actor, doctor_id)
    access_branch(session, actor, branch_id)
    _check_window(start, end, slot_minutes, breaks, capacity, (on_date.weekday(),))
    row = session.scalar(
        select(ScheduleOverride).where(
            ScheduleOverride.tenant_id == tenant_id,
            ScheduleOverride.doctor_id == doctor_id,
            ScheduleOverride.branch_id == branch_id,
            ScheduleOverride.on_date == on_date,
        )
    )
    if row is None:
        row = ScheduleOverride(
            tenant_id=tenant_id, doctor_id=doctor_id, branch_id=branch_id, on_date=on_date
        )
        session.add(row)
    row.start_time, row.end_time, row.slot_minutes = start, end, slot_minutes
    row.capacity, row.room = capacity, room
    row.breaks = [[b.strftime("%H:%M"), e.strftime("%H:%M")] for b, e in breaks]
    session.flush()
    audit.record(
        session,
        actor,
        "schedule.override",
        entity="doctor",
        entity_id=doctor_id,
        detail={"date": on_date.isoformat()},
    )
    return row


def _reject_overlap(
    session: Session, tenant_id: int, doctor_id: int, weekday: int, start: dt.time, end: dt.time
) -> None:
    clash = session.scalar(
        select(DoctorSchedule.id).where(
            DoctorSchedule.tenant_id == tenant_id,
            DoctorSchedule.doctor_id == doctor_id,
            DoctorSchedule.weekday == weekday,
            DoctorSchedule.active.is_(True),
            DoctorSchedule.start_time < end,
            DoctorSchedule.end_time > start,
        )
    )
    if clash:
        raise ScheduleOverlap(
            "This window overlaps the doctor's existing schedule on that weekday",
            field="start",
            weekday=weekday,
        )


def _check_window(
    start: dt.time,
    end: dt.time,
    slot_minutes: int,
    breaks: Sequence[TimeRange],
    capacity: int,
    weekdays: Sequence[int],
) -> None:
    if start >= end:
        raise ValidationFailed("Start must be before end", field="start")
    _check_slot_minutes(slot_minutes)
    if not 1 <= capacity <= 20:
        raise ValidationFailed("Capacity must be between 1 and 20", field="capacity")
    if not weekdays or any(not 0 <= d <= 6 for d in weekdays):
        raise ValidationFailed("Weekdays are 0 (Monday) to 6 (Sunday)", field="weekdays")
    for b_start, b_end in breaks:
        if not start <= b_start < b_end <= end:
            raise ValidationFailed("Each break must lie inside the working window", field="breaks")


def _check_slot_minutes(minutes: int) -> None:
    if not 10 <= minutes <= 30:
        raise ValidationFailed("Slot length must be 10 to 30 minutes", field="slot_minutes")
