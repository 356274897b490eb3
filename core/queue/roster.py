"""The doctors on duty in a department today and their live state, in four lean queries.

On duty: an active doctor of the department with a weekly schedule (or a one-day override) at
the department's branch for the service day, not on whole-day leave, whose day session is not
closed. Their state is what allocation, the calling order and the EWT need: the consultation in
progress, called-but-not-started tokens, pause and announced delay, the rolling average of
recent consultations, today's load and the kinds of their latest calls (for the priority cap).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session

from core.queue.place import QueuePlace
from core.queue.scoring import QueueRules
from db.models import (
    Doctor,
    DoctorLeave,
    DoctorSchedule,
    DoctorSession,
    QueueToken,
    ScheduleOverride,
)

_DoctorRow = tuple[
    int, int, str | None, int, float, str | None, dt.datetime | None, dt.datetime | None
]
HISTORY_DAYS = 14  # recent consultations feed the rolling average; older ones are ignored


@dataclass(frozen=True)
class DoctorState:
    """One on-duty doctor as the queue engine sees them right now."""

    doctor_id: int
    department_id: int
    room: str | None
    slot_minutes: int
    performance_weight: float
    session_status: str  # active | paused (no session row yet counts as active)
    paused_until: dt.datetime | None
    delay_until: dt.datetime | None
    avg_minutes: float
    current_started_at: dt.datetime | None
    called: int
    waiting: int
    served_today: int
    recent_kinds: tuple[str, ...]

    @property
    def busy(self) -> int:
        """Tokens on the doctor's hands: waiting for them, called, or in consultation."""
        return self.waiting + self.called + (1 if self.current_started_at else 0)

    @property
    def assigned_today(self) -> int:
        """Every token the doctor has had today (for weighted allocation)."""
        return self.busy + self.served_today


def department_roster(
    session: Session,
    tenant_id: int,
    place: QueuePlace,
    day: dt.date,
    rules: QueueRules,
    *,
    include: int | None = None,
) -> list[DoctorState]:
    """Return today's on-duty doctors of the department, by id, plus doctor ``include``.

    ``include`` is a doctor acting now (calling next) even if not rostered for the day.
    """
    doctors = _doctors(session, tenant_id, place, day, include)
    if not doctors:
        return []
    ids = [d[0] for d in doctors]
    counts, started = _today(session, tenant_id, ids, day)
    averages = _averages(session, tenant_id, ids, day, rules.rolling_window)
    recent = _recent_kinds(session, tenant_id, ids, day, max(rules.cap_every - 1, 0))
    roster = []
    for doctor_id, dept_id, room, slot, weight, status, paused_until, delay_until in doctors:
        mine = counts.get(doctor_id, {})
        durations = averages.get(doctor_id)
        roster.append(
            DoctorState(
                doctor_id=doctor_id,
                department_id=dept_id,
                room=room,
                slot_minutes=slot,
                performance_weight=float(weight or 1.0),
                session_status=status or "active",
                paused_until=paused_until if status == "paused" else None,
                delay_until=delay_until,
                avg_minutes=sum(durations) / len(durations) if durations else float(slot),
                current_started_at=started.get(doctor_id),
                called=mine.get("called", 0),
                waiting=mine.get("waiting", 0),
                served_today=mine.get("done", 0),
                recent_kinds=tuple(recent.get(doctor_id, ())),
            )
        )
    return roster


def _doctors(
    session: Session,
    tenant_id: int,
    place: QueuePlace,
    day: dt.date,
    include: int | None,
) -> Sequence[_DoctorRow]:
    """Doctor rows joined with their day session; one query."""
    day_session = and_(
        DoctorSession.tenant_id == tenant_id,
        DoctorSession.doctor_id == Doctor.id,
        DoctorSession.branch_id == place.branch_id,
        DoctorSession.service_date == day,
    )
    stmt = (
        select(
            Doctor.id,
            Doctor.department_id,
            func.coalesce(DoctorSession.room, Doctor.default_room),
            Doctor.default_slot_minutes,
            Doctor.performance_weight,
            DoctorSession.status,
            DoctorSession.paused_until,
            DoctorSession.delay_until,
        )
        .outerjoin(DoctorSession, day_session)
        .where(Doctor.tenant_id == tenant_id, Doctor.active.is_(True))
        .order_by(Doctor.id)
    )
    scheduled = exists().where(
        DoctorSchedule.tenant_id == tenant_id,
        DoctorSchedule.doctor_id == Doctor.id,
        DoctorSchedule.branch_id == place.branch_id,
        DoctorSchedule.weekday == day.weekday(),
        DoctorSchedule.active.is_(True),
        or_(DoctorSchedule.valid_from.is_(None), DoctorSchedule.valid_from <= day),
        or_(DoctorSchedule.valid_to.is_(None), DoctorSchedule.valid_to >= day),
    )
    override = exists().where(
        ScheduleOverride.tenant_id == tenant_id,
        ScheduleOverride.doctor_id == Doctor.id,
        ScheduleOverride.branch_id == place.branch_id,
        ScheduleOverride.on_date == day,
    )
    day_off = exists().where(
        DoctorLeave.tenant_id == tenant_id,
        DoctorLeave.doctor_id == Doctor.id,
        DoctorLeave.start_date <= day,
        DoctorLeave.end_date >= day,
        DoctorLeave.start_time.is_(None),
    )
    rostered = and_(
        Doctor.department_id == place.department_id,
        or_(scheduled, override),
        ~day_off,
        or_(DoctorSession.status.is_(None), DoctorSession.status != "closed"),
    )
    stmt = stmt.where(rostered if include is None else or_(Doctor.id == include, rostered))
    return [cast(_DoctorRow, tuple(r)) for r in session.execute(stmt)]


def _today(
    session: Session, tenant_id: int, ids: list[int], day: dt.date
) -> tuple[dict[int, dict[str, int]], dict[int, dt.datetime]]:
    """Token counts by doctor and status today, and each consultation's start."""
    rows = session.execute(
        select(
            QueueToken.doctor_id,
            QueueToken.status,
            func.count(),
            func.max(QueueToken.started_at),
        )
        .where(
            QueueToken.tenant_id == tenant_id,
            QueueToken.doctor_id.in_(ids),
            QueueToken.service_date == day,
        )
        .group_by(QueueToken.doctor_id, QueueToken.status)
    )
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    started: dict[int, dt.datetime] = {}
    for doctor_id, status, n, last_start in rows:
        if doctor_id is None:
            continue
        counts[doctor_id][status] = n
        if status == "in_consultation" and last_start is not None:
            started[doctor_id] = last_start
    return counts, started


def _averages(
    session: Session, tenant_id: int, ids: list[int], day: dt.date, window: int
) -> dict[int, list[float]]:
    """Durations (minutes) of each doctor's last ``window`` finished consultations."""
    ranked = (
        select(
            QueueToken.doctor_id,
            QueueToken.started_at,
            QueueToken.finished_at,
            func.row_number()
            .over(
                partition_by=QueueToken.doctor_id,
                order_by=(QueueToken.finished_at.desc(), QueueToken.id.desc()),
            )
            .label("n"),
        )
        .where(
            QueueToken.tenant_id == tenant_id,
            QueueToken.doctor_id.in_(ids),
            QueueToken.service_date >= day - dt.timedelta(days=HISTORY_DAYS),
            QueueToken.service_date <= day,
            QueueToken.status == "done",
            QueueToken.started_at.is_not(None),
            QueueToken.finished_at.is_not(None),
        )
        .subquery()
    )
    rows = session.execute(
        select(ranked.c.doctor_id, ranked.c.started_at, ranked.c.finished_at).where(
            ranked.c.n <= window
        )
    )
    durations: dict[int, list[float]] = defaultdict(list)
    for doctor_id, start, end in rows:
        durations[doctor_id].append(max((end - start).total_seconds() / 60, 0.0))
    return durations


def _recent_kinds(
    session: Session, tenant_id: int, ids: list[int], day: dt.date, window: int
) -> dict[int, list[str]]:
    """Kinds of each doctor's latest ``window`` calls today, newest first."""
    if window <= 0:
        return {}
    ranked = (
        select(
            QueueToken.doctor_id,
            QueueToken.kind,
            QueueToken.called_at,
            func.row_number()
            .over(
                partition_by=QueueToken.doctor_id,
                order_by=(QueueToken.called_at.desc(), QueueToken.id.desc()),
            )
            .label("n"),
        )
        .where(
            QueueToken.tenant_id == tenant_id,
            QueueToken.doctor_id.in_(ids),
            QueueToken.service_date == day,
            QueueToken.called_at.is_not(None),
        )
        .subquery()
    )
    rows = session.execute(
        select(ranked.c.doctor_id, ranked.c.kind)
        .where(ranked.c.n <= window)
        .order_by(ranked.c.doctor_id, ranked.c.n)
    )
    kinds: dict[int, list[str]] = defaultdict(list)
    for doctor_id, kind in rows:
        kinds[doctor_id].append(kind)
    return kinds
