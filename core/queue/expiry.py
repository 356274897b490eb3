"""End-of-day clean-up: tokens still active after their service day become ``expired``.

Run by a scheduled worker (and safe to run any time, any number of times): it only touches
tokens of service days that are over on the branch's wall clock, in batches, each with its
``TokenExpired`` event, closes those days' doctor sessions and marks those days' appointments
never checked in as ``no_show`` (the no-show model's outcomes). Today's tokens and
appointments are never touched, whatever the hour.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from core.auth.permissions import require
from core.context import Actor, tenant_of
from core.queue.events import append_events
from core.scheduling.attendance import mark_no_shows
from db.models import Branch, DoctorSession, QueueToken, Tenant
from db.models.queue import ACTIVE_TOKEN_STATUSES

BATCH = 500


@dataclass(frozen=True)
class ExpiryReport:
    """How many tokens expired and sessions closed in one run."""

    tokens: int
    sessions: int
    no_shows: int = 0


def expire_past_days(session: Session, actor: Actor) -> ExpiryReport:
    """Expire the clinic's active tokens of ended days; close old sessions; mark no-shows."""
    require(actor, "queue.manage")
    now = actor.clock()
    tenant_id = tenant_of(session, actor)
    expired = closed = no_shows = 0
    for branch_id, zone in _branches(session, tenant_id):
        today = now.astimezone(ZoneInfo(zone)).date()
        expired += _expire_branch(session, actor, tenant_id, branch_id, today, now)
        closed += _close_sessions(session, tenant_id, branch_id, today)
        no_shows += mark_no_shows(session, tenant_id, branch_id, today, now)
    return ExpiryReport(expired, closed, no_shows)


def _branches(session: Session, tenant_id: int) -> list[tuple[int, str]]:
    rows = session.execute(
        select(Branch.id, func.coalesce(Branch.timezone, Tenant.timezone))
        .join(Tenant, Tenant.id == Branch.tenant_id)
        .where(Branch.tenant_id == tenant_id)
        .order_by(Branch.id)
    )
    return [(branch_id, zone) for branch_id, zone in rows]


def _expire_branch(
    session: Session,
    actor: Actor,
    tenant_id: int,
    branch_id: int,
    today: dt.date,
    now: dt.datetime,
) -> int:
    total = 0
    while True:
        stmt = (
            update(QueueToken)
            .where(
                QueueToken.id.in_(
                    select(QueueToken.id)
                    .where(
                        QueueToken.tenant_id == tenant_id,
                        QueueToken.branch_id == branch_id,
                        QueueToken.service_date < today,
                        QueueToken.status.in_(ACTIVE_TOKEN_STATUSES),
                    )
                    .order_by(QueueToken.id)
                    .limit(BATCH)
                    .with_for_update(skip_locked=True)
                ),
                QueueToken.status.in_(ACTIVE_TOKEN_STATUSES),
            )
            .values(status="expired", version=QueueToken.version + 1)
            .returning(
                QueueToken.id,
                QueueToken.code,
                QueueToken.department_id,
                QueueToken.doctor_id,
                QueueToken.service_date,
            )
            .execution_options(synchronize_session=False)
        )
        rows = session.execute(stmt).all()
        if not rows:
            return total
        append_events(
            session,
            [
                {
                    "tenant_id": tenant_id,
                    "branch_id": branch_id,
                    "department_id": dept,
                    "doctor_id": doctor,
                    "token_id": token_id,
                    "type": "TokenExpired",
                    "actor_id": actor.user_id,
                    "payload": {"code": code, "service_date": day.isoformat(), "to": "expired"},
                    "created_at": now,
                }
                for token_id, code, dept, doctor, day in rows
            ],
        )
        total += len(rows)


def _close_sessions(session: Session, tenant_id: int, branch_id: int, today: dt.date) -> int:
    result = session.execute(
        update(DoctorSession)
        .where(
            DoctorSession.tenant_id == tenant_id,
            DoctorSession.branch_id == branch_id,
            DoctorSession.service_date < today,
            DoctorSession.status != "closed",
        )
        .values(status="closed", paused_until=None, delay_until=None)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
