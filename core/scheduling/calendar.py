"""A doctor's working calendar: weekly windows, per-day overrides, breaks and leave.

Everything that shapes slots over a date range is loaded up front in a handful of queries
(schedules, breaks, overrides, leaves, branches) so slot generation itself never touches the
database.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from core.tenancy import tenant_timezone
from db.models import Branch, DoctorLeave, DoctorSchedule, ScheduleBreak, ScheduleOverride

TimeRange = tuple[dt.time, dt.time]


@dataclass(frozen=True)
class Window:
    """One working window of a day, in the branch's local wall-clock time."""

    branch_id: int
    start: dt.time
    end: dt.time
    slot_minutes: int
    capacity: int
    breaks: tuple[TimeRange, ...]


@dataclass(frozen=True)
class Calendar:
    """Everything that shapes a doctor's slots over a date range, loaded up front."""

    schedules: Sequence[DoctorSchedule]
    breaks: dict[int, tuple[TimeRange, ...]]
    overrides: Sequence[ScheduleOverride]
    leaves: Sequence[DoctorLeave]
    zones: dict[int, ZoneInfo]

    def windows(self, on_date: dt.date) -> list[Window]:
        """Return the day's working windows; an override replaces its branch's weekly ones."""
        todays = [o for o in self.overrides if o.on_date == on_date]
        replaced = {o.branch_id for o in todays}
        weekly = [
            s for s in self.schedules if _valid_on(s, on_date) and s.branch_id not in replaced
        ]
        return [_override_window(o) for o in todays] + [
            Window(
                s.branch_id,
                s.start_time,
                s.end_time,
                s.slot_minutes,
                s.capacity,
                self.breaks.get(s.id, ()),
            )
            for s in weekly
        ]

    def day_off(self, on_date: dt.date) -> bool:
        """Return whether a whole-day leave covers ``on_date``."""
        return any(lv.start_time is None and _covers(lv, on_date) for lv in self.leaves)

    def on_leave(self, on_date: dt.date, start: dt.datetime, end: dt.datetime) -> bool:
        """Return whether leave touches the local (naive) range ``start``-``end``."""
        for lv in self.leaves:
            if not _covers(lv, on_date):
                continue
            if lv.start_time is None or lv.end_time is None:
                return True
            if start < dt.datetime.combine(on_date, lv.end_time) and end > dt.datetime.combine(
                on_date, lv.start_time
            ):
                return True
        return False


def in_break(window: Window, on_date: dt.date, start: dt.datetime, end: dt.datetime) -> bool:
    """Return whether the local (naive) range ``start``-``end`` touches a break."""
    return any(
        start < dt.datetime.combine(on_date, b_end) and end > dt.datetime.combine(on_date, b_start)
        for b_start, b_end in window.breaks
    )


def load_calendar(
    session: Session,
    tenant_id: int,
    doctor_id: int,
    first: dt.date,
    last: dt.date,
    branch_id: int | None,
) -> Calendar:
    """Load the doctor's calendar for local dates ``first``..``last`` in five queries."""
    schedules = _schedules(session, tenant_id, doctor_id, first, last, branch_id)
    overrides = _overrides(session, tenant_id, doctor_id, first, last, branch_id)
    branch_ids = {s.branch_id for s in schedules} | {o.branch_id for o in overrides}
    return Calendar(
        schedules,
        _breaks(session, tenant_id, [s.id for s in schedules]),
        overrides,
        _leaves(session, tenant_id, doctor_id, first, last),
        _zones(session, tenant_id, branch_ids),
    )


def _schedules(
    session: Session,
    tenant_id: int,
    doctor_id: int,
    first: dt.date,
    last: dt.date,
    branch_id: int | None,
) -> list[DoctorSchedule]:
    query = select(DoctorSchedule).where(
        DoctorSchedule.tenant_id == tenant_id,
        DoctorSchedule.doctor_id == doctor_id,
        DoctorSchedule.active.is_(True),
        or_(DoctorSchedule.valid_from.is_(None), DoctorSchedule.valid_from <= last),
        or_(DoctorSchedule.valid_to.is_(None), DoctorSchedule.valid_to >= first),
    )
    if branch_id is not None:
        query = query.where(DoctorSchedule.branch_id == branch_id)
    return list(session.scalars(query))


def _overrides(
    session: Session,
    tenant_id: int,
    doctor_id: int,
    first: dt.date,
    last: dt.date,
    branch_id: int | None,
) -> list[ScheduleOverride]:
    query = select(ScheduleOverride).where(
        ScheduleOverride.tenant_id == tenant_id,
        ScheduleOverride.doctor_id == doctor_id,
        ScheduleOverride.on_date >= first,
        ScheduleOverride.on_date <= last,
    )
    if branch_id is not None:
        query = query.where(ScheduleOverride.branch_id == branch_id)
    return list(session.scalars(query))


def _breaks(
    session: Session, tenant_id: int, schedule_ids: Sequence[int]
) -> dict[int, tuple[TimeRange, ...]]:
    if not schedule_ids:
        return {}
    rows = session.execute(
        select(ScheduleBreak.schedule_id, ScheduleBreak.start_time, ScheduleBreak.end_time).where(
            ScheduleBreak.tenant_id == tenant_id, ScheduleBreak.schedule_id.in_(schedule_ids)
        )
    )
    found: dict[int, list[TimeRange]] = defaultdict(list)
    for schedule_id, start, end in rows:
        found[schedule_id].append((start, end))
    return {key: tuple(value) for key, value in found.items()}


def _leaves(
    session: Session, tenant_id: int, doctor_id: int, first: dt.date, last: dt.date
) -> list[DoctorLeave]:
    return list(
        session.scalars(
            select(DoctorLeave).where(
                DoctorLeave.tenant_id == tenant_id,
                DoctorLeave.doctor_id == doctor_id,
                DoctorLeave.start_date <= last,
                DoctorLeave.end_date >= first,
            )
        )
    )


def _zones(session: Session, tenant_id: int, branch_ids: set[int]) -> dict[int, ZoneInfo]:
    if not branch_ids:
        return {}
    branches = session.scalars(
        select(Branch).where(Branch.tenant_id == tenant_id, Branch.id.in_(branch_ids))
    )
    return {b.id: tenant_timezone(session, tenant_id, b) for b in branches}


def _override_window(row: ScheduleOverride) -> Window:
    breaks = tuple((dt.time.fromisoformat(b), dt.time.fromisoformat(e)) for b, e in row.breaks)
    return Window(
        row.branch_id, row.start_time, row.end_time, row.slot_minutes, row.capacity, breaks
    )


def _valid_on(schedule: DoctorSchedule, on_date: dt.date) -> bool:
    return (
        schedule.weekday == on_date.weekday()
        and (schedule.valid_from is None or schedule.valid_from <= on_date)
        and (schedule.valid_to is None or on_date <= schedule.valid_to)
    )


def _covers(leave: DoctorLeave, on_date: dt.date) -> bool:
    return leave.start_date <= on_date <= leave.end_date


def dates_between(first: dt.date, last: dt.date) -> list[dt.date]:
    """Return every date from ``first`` to ``last`` inclusive."""
    return [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]
