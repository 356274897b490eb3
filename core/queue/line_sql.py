"""The two prebuilt reads behind a department's line: doctors on duty, and today's tokens.

Both are built once with bind parameters and run as Core on the session's connection, so the
hot path (every issue, call and lifecycle change) pays no statement building or ORM loading.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Protocol, cast

from sqlalchemy import BindParameter, Date, Executable, and_, bindparam, func, or_, select
from sqlalchemy.orm import Session

from core.queue.place import QueuePlace
from core.scheduling.duty import on_duty
from db.models import (
    Doctor,
    DoctorSession,
    QueueToken,
)
from db.models.queue import ACTIVE_TOKEN_STATUSES

DoctorRow = tuple[
    int, int, str | None, int, float, str | None, dt.datetime | None, dt.datetime | None
]
_LINE_STATUSES = (*ACTIVE_TOKEN_STATUSES, "missed", "done")


class TokenRow(Protocol):
    """One row of today's tokens as the line reads it."""

    id: int
    doctor_id: int | None
    department_id: int
    status: str
    kind: str
    issued_at: dt.datetime
    target_at: dt.datetime | None
    called_at: dt.datetime | None
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    code: str
    patient_id: int
    eta_at: dt.datetime | None
    notified_eta_at: dt.datetime | None
    recall_count: int
    branch_id: int
    near_turn_sent: bool


def _build_doctors_query() -> Executable:
    """The roster query, built once; parameters: t, branch, day, weekday, dept, include."""
    t: BindParameter[int] = bindparam("t")
    branch: BindParameter[int] = bindparam("branch")
    day: BindParameter[dt.date] = bindparam("day", type_=Date)
    day_session = and_(
        DoctorSession.tenant_id == t,
        DoctorSession.doctor_id == Doctor.id,
        DoctorSession.branch_id == branch,
        DoctorSession.service_date == day,
    )
    rostered = and_(
        Doctor.department_id == bindparam("dept"),
        on_duty(Doctor.id, tenant_id=t, branch_id=branch, day=day, weekday=bindparam("weekday")),
        or_(DoctorSession.status.is_(None), DoctorSession.status != "closed"),
    )
    return (
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
        .where(
            Doctor.tenant_id == t,
            Doctor.active.is_(True),
            or_(Doctor.id == bindparam("include"), rostered),
        )
        .order_by(Doctor.id)
    )


_DOCTORS = _build_doctors_query()


def doctors_on_duty(
    session: Session,
    tenant_id: int,
    place: QueuePlace,
    day: dt.date,
    include: int | None,
) -> Sequence[DoctorRow]:
    """Doctor rows joined with their day session; one prebuilt query."""
    params = {
        "t": tenant_id,
        "branch": place.branch_id,
        "day": day,
        "weekday": day.weekday(),
        "dept": place.department_id,
        "include": -1 if include is None else include,
    }
    return [cast(DoctorRow, tuple(r)) for r in session.connection().execute(_DOCTORS, params)]


_TOKEN_COLUMNS = (
    QueueToken.id,
    QueueToken.doctor_id,
    QueueToken.department_id,
    QueueToken.status,
    QueueToken.kind,
    QueueToken.issued_at,
    QueueToken.target_at,
    QueueToken.called_at,
    QueueToken.started_at,
    QueueToken.finished_at,
    QueueToken.code,
    QueueToken.patient_id,
    QueueToken.eta_at,
    QueueToken.notified_eta_at,
    QueueToken.recall_count,
    QueueToken.branch_id,
    QueueToken.near_turn_sent,
)


_NEVER = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_TODAYS_TOKENS = select(*_TOKEN_COLUMNS).where(
    QueueToken.tenant_id == bindparam("t"),
    QueueToken.service_date == bindparam("day", type_=Date),
    QueueToken.status.in_(_LINE_STATUSES),
    or_(
        QueueToken.department_id == bindparam("dept"),
        QueueToken.doctor_id.in_(bindparam("doctors", expanding=True)),
    ),
    or_(QueueToken.status != "done", QueueToken.finished_at >= bindparam("since")),
)


def todays_tokens(
    session: Session,
    tenant_id: int,
    department_id: int,
    doctor_ids: list[int],
    day: dt.date,
    since: dt.datetime | None,
) -> Sequence[TokenRow]:
    """Today's tokens of the department and of its doctors (transfers in included)."""
    params = {
        "t": tenant_id,
        "day": day,
        "dept": department_id,
        "doctors": doctor_ids or [-1],
        "since": since or _NEVER,
    }
    # Core execution of a prebuilt statement: plain rows, no ORM loading on the hot path.
    return cast(Sequence[TokenRow], session.connection().execute(_TODAYS_TOKENS, params).all())
