"""The one rule for "this doctor is on duty at this branch on this day", as a SQL condition.

On duty: a weekly schedule at the branch for the day's weekday and valid on the day, or a
one-day override at the branch on the day, and no whole-day leave covering the day. Slot
generation (``calendar``) works from the same rows loaded into Python; every read that needs
the set of doctors on duty (the queue line, screens) uses this condition.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, exists, or_

from db.models import DoctorLeave, DoctorSchedule, ScheduleOverride


def on_duty(
    doctor_id: Any, *, tenant_id: Any, branch_id: Any, day: Any, weekday: Any
) -> ColumnElement[bool]:
    """Return the condition that ``doctor_id`` works at ``branch_id`` on ``day``.

    Each argument is a value, a bind parameter or a column, so hot paths can build the
    statement once with ``bindparam`` and screens can pass plain values.
    """
    scheduled = exists().where(
        DoctorSchedule.tenant_id == tenant_id,
        DoctorSchedule.doctor_id == doctor_id,
        DoctorSchedule.branch_id == branch_id,
        DoctorSchedule.weekday == weekday,
        DoctorSchedule.active.is_(True),
        or_(DoctorSchedule.valid_from.is_(None), DoctorSchedule.valid_from <= day),
        or_(DoctorSchedule.valid_to.is_(None), DoctorSchedule.valid_to >= day),
    )
    override = exists().where(
        ScheduleOverride.tenant_id == tenant_id,
        ScheduleOverride.doctor_id == doctor_id,
        ScheduleOverride.branch_id == branch_id,
        ScheduleOverride.on_date == day,
    )
    return and_(
        or_(scheduled, override), ~on_leave_all_day(doctor_id, tenant_id=tenant_id, day=day)
    )


def on_leave_all_day(doctor_id: Any, *, tenant_id: Any, day: Any) -> ColumnElement[bool]:
    """Return the condition that a whole-day leave of ``doctor_id`` covers ``day``."""
    return exists().where(
        DoctorLeave.tenant_id == tenant_id,
        DoctorLeave.doctor_id == doctor_id,
        DoctorLeave.start_date <= day,
        DoctorLeave.end_date >= day,
        DoctorLeave.start_time.is_(None),
    )
