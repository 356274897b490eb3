"""Calling the next token of a doctor's queue, atomically.

Candidates are read without locks and ranked in Python (``scoring.rank``); each is then claimed
by compare-and-set, best first. On PostgreSQL the claim's subquery takes the row lock with
``FOR UPDATE SKIP LOCKED``, so a concurrent caller skips a token being called instead of
waiting for it; on SQLite the writer lock serialises callers. Either way a token moves from
``waiting`` to ``called`` exactly once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.orm import Session

from core.auth.permissions import require
from core.context import Actor, load_owned, tenant_of
from core.errors import Conflict
from core.queue.etas import refresh_etas
from core.queue.events import NOW_SERVING, append_event, enqueue_intent
from core.queue.place import queue_place
from core.queue.roster import department_roster
from core.queue.scoring import Candidate, QueueRules, rank
from core.tenancy import access_branch
from db.models import Doctor, QueueToken


@dataclass(frozen=True)
class CalledToken:
    """The token just called to a doctor's room."""

    id: int
    code: str
    kind: str
    patient_id: int
    doctor_id: int
    department_id: int
    room: str | None
    recall_count: int
    called_at: dt.datetime


def call_next(
    session: Session, actor: Actor, *, doctor_id: int, branch_id: int | None = None
) -> CalledToken | None:
    """Call the best waiting token of the doctor's queue (or department pool) for today.

    Row lock: the claimed token, until commit. Returns None when nobody is waiting.
    """
    require(actor, "queue.call")
    now = actor.clock()
    tenant_id = tenant_of(session, actor)
    doctor = load_owned(session, actor, Doctor, doctor_id, "Doctor")
    if branch_id is not None:
        access_branch(session, actor, branch_id)
    if not doctor.active:
        raise Conflict("That doctor is no longer active at this clinic")
    place = queue_place(session, tenant_id, doctor.department_id)
    rules, day = place.rules, place.service_date(now)
    roster = department_roster(session, tenant_id, place, day, rules, include=doctor.id)
    me = next(s for s in roster if s.doctor_id == doctor.id)
    waiting = waiting_candidates(session, tenant_id, doctor, day, branch_id)
    loads = department_loads(session, tenant_id, day, waiting, rules)
    order = rank(waiting, now, rules, recent_kinds=me.recent_kinds, load_factors=loads)
    for candidate in order:
        called = _claim(session, tenant_id, candidate.id, doctor, now)
        if called is not None:
            _announce(session, actor, called, place.branch_id)
            after = replace(
                me,
                called=me.called + 1,
                recent_kinds=(called.kind, *me.recent_kinds),
                waiting=max(me.waiting - 1, 0),
            )
            roster = [after if s is me else s for s in roster]
            refresh_etas(session, tenant_id, place, now, roster=roster)
            return called
    return None


def department_loads(
    session: Session,
    tenant_id: int,
    day: dt.date,
    waiting: Sequence[Candidate],
    rules: QueueRules,
) -> dict[int, float]:
    """``department_load_factor`` per department of the candidates (0 unless configured).

    The factor is ``load_factor_per_waiting × tokens waiting in the department``: when a
    doctor's line holds tokens of several departments (transfers), the busier department's
    patients move up. One grouped query, skipped when the factor is 0 (the default).
    """
    if rules.load_factor_per_waiting <= 0:
        return {}
    departments = {c.department_id for c in waiting if c.department_id is not None}
    if not departments:
        return {}
    rows = session.execute(
        select(QueueToken.department_id, func.count())
        .where(
            QueueToken.tenant_id == tenant_id,
            QueueToken.service_date == day,
            QueueToken.status == "waiting",
            QueueToken.department_id.in_(departments),
        )
        .group_by(QueueToken.department_id)
    )
    return {dept: rules.load_factor_per_waiting * n for dept, n in rows}


def waiting_candidates(
    session: Session, tenant_id: int, doctor: Doctor, day: dt.date, branch_id: int | None
) -> Sequence[Candidate]:
    """Return today's waiting tokens of the doctor and the department pool (no locks)."""
    stmt = select(
        QueueToken.id,
        QueueToken.kind,
        QueueToken.issued_at,
        QueueToken.target_at,
        QueueToken.department_id,
    ).where(
        QueueToken.tenant_id == tenant_id,
        QueueToken.service_date == day,
        QueueToken.status == "waiting",
        _mine(doctor),
    )
    if branch_id is not None:
        stmt = stmt.where(QueueToken.branch_id == branch_id)
    return [Candidate(*row) for row in session.execute(stmt)]


def _mine(doctor: Doctor) -> ColumnElement[bool]:
    """Tokens for this doctor, or unassigned tokens of the doctor's department."""
    return or_(
        QueueToken.doctor_id == doctor.id,
        (QueueToken.doctor_id.is_(None)) & (QueueToken.department_id == doctor.department_id),
    )


def _claim(
    session: Session, tenant_id: int, token_id: int, doctor: Doctor, now: dt.datetime
) -> CalledToken | None:
    """Compare-and-set one token from waiting to called; None if another caller got it."""
    locked = (
        select(QueueToken.id)
        .where(QueueToken.id == token_id, QueueToken.status == "waiting")
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    stmt = (
        update(QueueToken)
        .where(
            QueueToken.id == locked,
            QueueToken.tenant_id == tenant_id,
            QueueToken.status == "waiting",
            _mine(doctor),
        )
        .values(
            status="called",
            called_at=now,
            doctor_id=doctor.id,
            room=doctor.default_room,
            version=QueueToken.version + 1,
        )
        .returning(
            QueueToken.id,
            QueueToken.code,
            QueueToken.kind,
            QueueToken.patient_id,
            QueueToken.doctor_id,
            QueueToken.department_id,
            QueueToken.room,
            QueueToken.recall_count,
        )
        .execution_options(synchronize_session=False)
    )
    row = session.execute(stmt).first()
    if row is None:
        return None
    token_id, code, kind, patient_id, _doctor, department_id, room, recalls = row
    return CalledToken(
        token_id, code, kind, patient_id, doctor.id, department_id, room, recalls, called_at=now
    )


def _announce(session: Session, actor: Actor, token: CalledToken, branch_id: int) -> None:
    """Append ``TokenCalled`` and the now-serving intent (once per call, recalls included)."""
    tenant_id = actor.require_tenant()
    payload = {
        "code": token.code,
        "kind": token.kind,
        "room": token.room,
        "recall_count": token.recall_count,
    }
    append_event(
        session,
        tenant_id=tenant_id,
        branch_id=branch_id,
        department_id=token.department_id,
        doctor_id=token.doctor_id,
        token_id=token.id,
        type="TokenCalled",
        actor_id=actor.user_id,
        payload=payload,
        at=token.called_at,
    )
    enqueue_intent(
        session,
        tenant_id=tenant_id,
        kind=NOW_SERVING,
        payload={**payload, "token_id": token.id, "patient_id": token.patient_id},
        dedupe_key=f"now_serving:{token.id}:{token.recall_count}",
        at=token.called_at,
    )
