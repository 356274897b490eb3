"""Slot generation: weekly schedule or per-day override, minus breaks, leave, bookings and past.

Schedules are wall-clock times in the branch's timezone. A slot whose local start does not exist
(spring forward) is skipped; an ambiguous local start (fall back) means its first occurrence
(fold=0). Slot ends are start + slot length in UTC, and slots that would overlap in UTC are
dropped, so a doctor's slot instants never overlap or repeat.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.auth.permissions import require
from core.context import Actor, tenant_of
from core.errors import DoctorNotAvailable, ValidationFailed
from core.scheduling.calendar import Calendar, Window, dates_between, in_break, load_calendar
from core.scheduling.doctors import access_doctor
from core.tenancy import access_branch, tenant_timezone
from db.models import Appointment

SEARCH_DAYS = 14
SEAT_HOLDING = Appointment.status != "cancelled"


@dataclass(frozen=True)
class Slot:
    """One bookable time of a doctor: UTC instants plus the branch's wall-clock view."""

    start: dt.datetime
    end: dt.datetime
    local_start: dt.datetime
    local_end: dt.datetime
    on_date: dt.date
    branch_id: int
    capacity: int
    seats_left: int

    @property
    def label(self) -> str:
        """Return the local start as ``HH:MM``."""
        return self.local_start.strftime("%H:%M")


def available_slots(
    session: Session,
    actor: Actor,
    *,
    doctor_id: int,
    on_date: dt.date,
    branch_id: int | None = None,
) -> list[Slot]:
    """Return the doctor's free slots on ``on_date`` (local date), earliest first."""
    require(actor, "schedule.read")
    tenant_id = tenant_of(session, actor)
    if not _doctor_active(session, actor, doctor_id, branch_id):
        return []
    slots = free_slots(
        session,
        tenant_id,
        doctor_id=doctor_id,
        first=on_date,
        last=on_date,
        branch_id=branch_id,
        now=actor.clock(),
    )
    return [s for s in slots if s.on_date == on_date]


def next_free_slots(
    session: Session,
    actor: Actor,
    *,
    doctor_id: int,
    after: dt.datetime,
    limit: int = 3,
    branch_id: int | None = None,
) -> list[Slot]:
    """Return up to ``limit`` free slots starting after ``after``, looking 14 days ahead."""
    require(actor, "schedule.read")
    tenant_id = tenant_of(session, actor)
    check_aware(after, "after")
    if not _doctor_active(session, actor, doctor_id, branch_id):
        return []
    return free_slots_after(
        session,
        tenant_id,
        doctor_id=doctor_id,
        after=after,
        now=actor.clock(),
        branch_id=branch_id,
        limit=limit,
    )


def free_slots_after(
    session: Session,
    tenant_id: int,
    *,
    doctor_id: int,
    after: dt.datetime,
    now: dt.datetime,
    branch_id: int | None = None,
    limit: int = 3,
) -> list[Slot]:
    """Return the next free slots after ``after`` (caller checked access and permission)."""
    # A day of margin: a branch may sit in a timezone behind the tenant's.
    first = after.astimezone(tenant_timezone(session, tenant_id)).date() - dt.timedelta(days=1)
    slots = free_slots(
        session,
        tenant_id,
        doctor_id=doctor_id,
        first=first,
        last=first + dt.timedelta(days=SEARCH_DAYS + 1),
        branch_id=branch_id,
        now=now,
    )
    return [s for s in slots if s.start > after][:limit]


def free_slots(
    session: Session,
    tenant_id: int,
    *,
    doctor_id: int,
    first: dt.date,
    last: dt.date,
    branch_id: int | None,
    now: dt.datetime,
) -> list[Slot]:
    """Return the free, not yet started slots of local dates ``first``..``last``."""
    cal = load_calendar(session, tenant_id, doctor_id, first, last, branch_id)
    grid = [s for s in _grid(cal, dates_between(first, last)) if s.start >= now]
    taken = seats_taken(session, tenant_id, doctor_id=doctor_id, slots=grid)
    with_seats = (replace(s, seats_left=_left(s, taken.get(s.start, set()))) for s in grid)
    return [s for s in with_seats if s.seats_left > 0]


def resolve_slot(
    session: Session,
    tenant_id: int,
    *,
    doctor_id: int,
    slot_start: dt.datetime,
    branch_id: int | None = None,
) -> Slot:
    """Return the schedule slot starting exactly at ``slot_start`` (seats not counted).

    Raises ``DoctorNotAvailable`` on leave or outside working hours and ``ValidationFailed``
    for a time inside working hours that is not a slot boundary.
    """
    day = slot_start.astimezone(tenant_timezone(session, tenant_id)).date()
    dates = dates_between(day - dt.timedelta(days=1), day + dt.timedelta(days=1))
    cal = load_calendar(session, tenant_id, doctor_id, dates[0], dates[-1], branch_id)
    match = next((s for s in _grid(cal, dates) if s.start == slot_start), None)
    if match is not None:
        return match
    if _working_at(cal, dates, slot_start):
        raise ValidationFailed("Not a bookable slot time", field="slot_start")
    raise DoctorNotAvailable()


def seats_taken(
    session: Session, tenant_id: int, *, doctor_id: int, slots: Sequence[Slot]
) -> dict[dt.datetime, set[int]]:
    """Return the seats held in each of ``slots`` (one query over their time range)."""
    if not slots:
        return {}
    rows = session.execute(
        select(Appointment.slot_start, Appointment.seat).where(
            Appointment.tenant_id == tenant_id,
            Appointment.doctor_id == doctor_id,
            SEAT_HOLDING,
            Appointment.slot_start >= min(s.start for s in slots),
            Appointment.slot_start <= max(s.start for s in slots),
        )
    )
    taken: dict[dt.datetime, set[int]] = defaultdict(set)
    for start, seat in rows:
        taken[start].add(seat)
    return taken


def check_aware(value: dt.datetime, field: str) -> None:
    """Reject a naive datetime: instants must carry their timezone."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationFailed("Give the time with its timezone", field=field)


def _doctor_active(session: Session, actor: Actor, doctor_id: int, branch_id: int | None) -> bool:
    if branch_id is not None:
        access_branch(session, actor, branch_id)
    return access_doctor(session, actor, doctor_id).active


def _left(slot: Slot, seats: set[int]) -> int:
    return slot.capacity - sum(1 for seat in seats if seat <= slot.capacity)


def _grid(cal: Calendar, dates: Iterable[dt.date]) -> list[Slot]:
    """Return schedule slots not on leave, sorted, with UTC overlaps (DST gaps) removed."""
    slots = sorted((s for d in dates for s in _day_grid(cal, d)), key=lambda s: s.start)
    kept: list[Slot] = []
    for slot in slots:
        if not kept or slot.start >= kept[-1].end:
            kept.append(slot)
    return kept


def _day_grid(cal: Calendar, on_date: dt.date) -> Iterator[Slot]:
    if cal.day_off(on_date):
        return
    for window in cal.windows(on_date):
        zone = cal.zones[window.branch_id]
        for start, end in _local_starts(window, on_date):
            if cal.on_leave(on_date, start, end):
                continue
            utc = _to_utc(start, zone)
            if utc is not None:
                yield _slot(window, on_date, zone, utc)


def _local_starts(window: Window, on_date: dt.date) -> Iterator[tuple[dt.datetime, dt.datetime]]:
    """Yield naive local (start, end) pairs of the window that miss every break."""
    step = dt.timedelta(minutes=window.slot_minutes)
    start = dt.datetime.combine(on_date, window.start)
    close = dt.datetime.combine(on_date, window.end)
    while start + step <= close:
        if not in_break(window, on_date, start, start + step):
            yield start, start + step
        start += step


def _to_utc(local: dt.datetime, zone: ZoneInfo) -> dt.datetime | None:
    """Return the UTC instant of a naive wall-clock time, or None if it does not exist."""
    instant = local.replace(tzinfo=zone, fold=0).astimezone(dt.UTC)
    if instant.astimezone(zone).replace(tzinfo=None) != local:
        return None  # inside a spring-forward gap
    return instant


def _slot(window: Window, on_date: dt.date, zone: ZoneInfo, start: dt.datetime) -> Slot:
    end = start + dt.timedelta(minutes=window.slot_minutes)
    return Slot(
        start=start,
        end=end,
        local_start=start.astimezone(zone),
        local_end=end.astimezone(zone),
        on_date=on_date,
        branch_id=window.branch_id,
        capacity=window.capacity,
        seats_left=window.capacity,
    )


def _working_at(cal: Calendar, dates: Sequence[dt.date], instant: dt.datetime) -> bool:
    """Return whether the doctor works at ``instant`` (inside a window, off break and leave)."""
    for on_date in dates:
        if cal.day_off(on_date):
            continue
        for window in cal.windows(on_date):
            local = instant.astimezone(cal.zones[window.branch_id]).replace(tzinfo=None)
            moment = (local, local + dt.timedelta(minutes=1))
            inside = (
                dt.datetime.combine(on_date, window.start)
                <= local
                < dt.datetime.combine(on_date, window.end)
            )
            if (
                inside
                and not in_break(window, on_date, *moment)
                and not cal.on_leave(on_date, *moment)
            ):
                return True
    return False
