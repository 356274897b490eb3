"""The whole board of a branch (the snapshot a screen starts from).

A board is the departments shown, a lane per doctor working today, a pool per department, the
most recent calls (the newest is the one shown huge) and the branch's live announcements. Calls
are read from ``TokenCalled`` events up to the stream position the snapshot is sent at, so a
screen never announces a call twice: later calls reach it as events.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import CompoundSelect, Select, or_, select, union
from sqlalchemy.orm import Session

from core.context import Actor
from core.patients.views import masked_name
from core.signage.branches import BranchRef, own_branch
from core.signage.lanes import Lane, Pool, department_pool, doctor_lane
from db.models import (
    Announcement,
    Department,
    Doctor,
    DoctorLeave,
    DoctorSchedule,
    DoctorSession,
    Patient,
    QueueEvent,
    QueueToken,
    ScheduleOverride,
)

RECENT_CALLS = 6
CALL_EVENTS = ("TokenCalled",)


@dataclass(frozen=True)
class DepartmentInfo:
    id: int
    code: str
    name: str


@dataclass(frozen=True)
class Call:
    """A token called to a room (the TV's headline)."""

    event_id: int
    code: str
    name: str
    room: str | None
    doctor: str | None
    department_code: str | None
    at: dt.datetime
    recall_count: int


@dataclass(frozen=True)
class Notice:
    id: int
    body: str
    language: str


@dataclass(frozen=True)
class Board:
    departments: tuple[DepartmentInfo, ...]
    lanes: tuple[Lane, ...]
    pools: tuple[Pool, ...]
    calls: tuple[Call, ...]
    announcements: tuple[Notice, ...]


def service_day(actor: Actor, branch: BranchRef) -> dt.date:
    """Today on the branch's wall clock."""
    return actor.clock().astimezone(ZoneInfo(branch.timezone)).date()


def branch_board(
    session: Session,
    actor: Actor,
    branch: BranchRef,
    *,
    codes: Collection[str] | None,
    upto_event: int,
) -> Board:
    """Render the board of ``branch`` (only departments in ``codes`` when given).

    Raises ``NotFound`` when ``branch`` is not the actor's clinic's.
    """
    own_branch(session, actor, branch)
    day = service_day(actor, branch)
    depts = departments(session, branch, codes)
    dept_ids = [d.id for d in depts]
    lanes = [
        doctor_lane(session, actor, doctor_id=doctor_id, day=day)
        for doctor_id in working_doctors(session, branch, dept_ids, day)
    ]
    pools = [department_pool(session, actor, department_id=d, day=day) for d in dept_ids]
    return Board(
        tuple(depts),
        tuple(lanes),
        tuple(p for p in pools if p.waiting),
        tuple(_recent_calls(session, actor, branch, dept_ids, upto_event=upto_event)),
        tuple(branch_notices(session, actor, branch)),
    )


def departments(
    session: Session, branch: BranchRef, codes: Collection[str] | None
) -> list[DepartmentInfo]:
    """Active departments of the branch, filtered to ``codes`` when given."""
    query = select(Department.id, Department.code, Department.name).where(
        Department.tenant_id == branch.tenant_id,
        Department.branch_id == branch.branch_id,
        Department.active.is_(True),
    )
    if codes:
        query = query.where(Department.code.in_([c.upper() for c in codes]))
    return [DepartmentInfo(*row) for row in session.execute(query.order_by(Department.code))]


def working_doctors(
    session: Session, branch: BranchRef, dept_ids: list[int], day: dt.date
) -> list[int]:
    """Doctors of those departments scheduled today, or holding tokens or a session today."""
    if not dept_ids:
        return []
    t, b = branch.tenant_id, branch.branch_id
    present: CompoundSelect[int] = union(
        _scheduled(t, b, day),
        select(ScheduleOverride.doctor_id).where(
            ScheduleOverride.tenant_id == t,
            ScheduleOverride.branch_id == b,
            ScheduleOverride.on_date == day,
        ),
        select(DoctorSession.doctor_id).where(
            DoctorSession.tenant_id == t,
            DoctorSession.branch_id == b,
            DoctorSession.service_date == day,
        ),
    )
    busy = _with_tokens(session, t, b, day)
    rows = session.execute(
        select(Doctor.id, Doctor.department_id, Doctor.full_name)
        .where(
            Doctor.tenant_id == t,
            Doctor.active.is_(True),
            Doctor.department_id.in_(dept_ids),
            or_(Doctor.id.in_(present), Doctor.id.in_(busy or [0])),
        )
        .order_by(Doctor.department_id, Doctor.full_name)
    ).all()
    away = _on_leave(session, t, day)
    return [r.id for r in rows if r.id in busy or r.id not in away]


def _scheduled(tenant_id: int, branch_id: int, day: dt.date) -> Select[int]:
    return select(DoctorSchedule.doctor_id).where(
        DoctorSchedule.tenant_id == tenant_id,
        DoctorSchedule.branch_id == branch_id,
        DoctorSchedule.weekday == day.weekday(),
        DoctorSchedule.active.is_(True),
        or_(DoctorSchedule.valid_from.is_(None), DoctorSchedule.valid_from <= day),
        or_(DoctorSchedule.valid_to.is_(None), DoctorSchedule.valid_to >= day),
    )


def _with_tokens(session: Session, tenant_id: int, branch_id: int, day: dt.date) -> set[int]:
    rows = session.scalars(
        select(QueueToken.doctor_id)
        .where(
            QueueToken.tenant_id == tenant_id,
            QueueToken.branch_id == branch_id,
            QueueToken.service_date == day,
            QueueToken.doctor_id.is_not(None),
        )
        .distinct()
    )
    return {d for d in rows if d is not None}


def _on_leave(session: Session, tenant_id: int, day: dt.date) -> set[int]:
    """Doctors on a whole-day leave ``day`` (part-day leaves still work that day)."""
    rows = session.scalars(
        select(DoctorLeave.doctor_id).where(
            DoctorLeave.tenant_id == tenant_id,
            DoctorLeave.start_date <= day,
            DoctorLeave.end_date >= day,
            DoctorLeave.start_time.is_(None),
        )
    )
    return set(rows)


def _recent_calls(
    session: Session,
    actor: Actor,
    branch: BranchRef,
    dept_ids: list[int],
    *,
    upto_event: int,
    limit: int = RECENT_CALLS,
) -> list[Call]:
    """Today's latest calls of those departments at or before event ``upto_event``."""
    if not dept_ids:
        return []
    zone = ZoneInfo(branch.timezone)
    midnight = dt.datetime.combine(service_day(actor, branch), dt.time(), zone)
    rows = session.execute(
        select(QueueEvent.id, QueueEvent.created_at, QueueEvent.payload, Doctor.full_name)
        .add_columns(Department.code, Patient.full_name, QueueToken.code)
        .join(QueueToken, QueueToken.id == QueueEvent.token_id)
        .join(Patient, Patient.id == QueueToken.patient_id)
        .join(Department, Department.id == QueueToken.department_id)
        .outerjoin(Doctor, Doctor.id == QueueEvent.doctor_id)
        .where(
            QueueEvent.tenant_id == branch.tenant_id,
            QueueEvent.branch_id == branch.branch_id,
            QueueEvent.id <= upto_event,
            QueueEvent.type.in_(CALL_EVENTS),
            QueueEvent.department_id.in_(dept_ids),
            QueueEvent.created_at >= midnight.astimezone(dt.UTC),
        )
        .order_by(QueueEvent.id.desc())
        .limit(limit)
    ).all()
    return [call_from(*row) for row in rows]


def call_from(
    event_id: int,
    at: dt.datetime,
    payload: dict[str, object],
    doctor: str | None,
    dept_code: str | None,
    patient_name: str,
    token_code: str,
) -> Call:
    """Build a ``Call`` from a ``TokenCalled`` event joined with its token and doctor."""
    room = payload.get("room")
    recalls = payload.get("recall_count")
    return Call(
        event_id=event_id,
        code=token_code,
        name=masked_name(patient_name),
        room=room if isinstance(room, str) else None,
        doctor=doctor,
        department_code=dept_code,
        at=at,
        recall_count=recalls if isinstance(recalls, int) else 0,
    )


def branch_notices(session: Session, actor: Actor, branch: BranchRef) -> list[Notice]:
    """The branch's active announcements showing now, in their set order (``NotFound`` else)."""
    own_branch(session, actor, branch)
    now = actor.clock()
    rows = session.execute(
        select(Announcement.id, Announcement.body, Announcement.language)
        .where(
            Announcement.tenant_id == branch.tenant_id,
            Announcement.branch_id == branch.branch_id,
            Announcement.active.is_(True),
            or_(Announcement.starts_at.is_(None), Announcement.starts_at <= now),
            or_(Announcement.ends_at.is_(None), Announcement.ends_at > now),
        )
        .order_by(Announcement.position, Announcement.id)
        .limit(12)
    ).all()
    return [Notice(*row) for row in rows]
