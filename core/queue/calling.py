"""Calling the next token of a doctor's queue, atomically.

Candidates are read without locks and ranked in Python (``scoring.rank``); each is then claimed
by compare-and-set, best first. On PostgreSQL the claim's subquery takes the row lock with
``FOR UPDATE SKIP LOCKED``, so a concurrent caller does not queue behind a token being called.
A token skipped that way is re-read: if it is still ``waiting`` as committed (its lock was an
ETA refresh or a claim in flight), the claim waits for that lock rather than passing over the
patient whose turn it is. On SQLite the writer lock serialises callers. Either way a token
moves from ``waiting`` to ``called`` exactly once, in calling order.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

from sqlalchemy import Executable, Table, bindparam, func, or_, select, update
from sqlalchemy.orm import Session

from core.auth.permissions import require
from core.context import Actor, load_owned, tenant_of
from core.errors import Conflict
from core.queue.doctor_day import resume_doctor
from core.queue.events import NOW_SERVING, append_event, enqueue_intent
from core.queue.line import RECENT, load_line
from core.queue.place import queue_place
from core.queue.projection import defer_refresh
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

    A paused doctor who calls next is back: the pause ends first (``DoctorResumed``).
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
    line = load_line(session, tenant_id, place, day, rules, include=doctor.id, since=now - RECENT)
    me = line.doctor(doctor.id)
    if me is not None and me.session_status == "paused":
        resume_doctor(session, actor, doctor_id=doctor.id)
        line = load_line(
            session, tenant_id, place, day, rules, include=doctor.id, since=now - RECENT
        )
        me = line.doctor(doctor.id)
    if me is None:
        raise Conflict("That doctor is no longer active at this clinic")
    waiting = [
        w.candidate
        for w in line.waiting
        if _is_mine(w.doctor_id, w.department_id, doctor)
        and (branch_id is None or w.branch_id == branch_id)
    ]
    loads = department_loads(session, tenant_id, day, waiting, rules)
    order = rank(waiting, now, rules, recent_kinds=me.recent_kinds, load_factors=loads)
    for candidate in order:
        called = _claim(session, tenant_id, candidate.id, doctor, me.room, now, skip_locked=True)
        if called is None and _still_waiting(session, candidate.id):
            # Locked but not taken: another desk's ETA refresh or a claim not yet committed.
            # Wait for that transaction instead of passing over a patient whose turn it is.
            called = _claim(
                session, tenant_id, candidate.id, doctor, me.room, now, skip_locked=False
            )
        if called is not None:
            _announce(session, actor, called, place.branch_id)
            after = line.after_call(doctor.id, called.id, called.kind)
            defer_refresh(session, tenant_id, place, now, include=doctor.id, line=after)
            return called
    return None


def _is_mine(token_doctor: int | None, token_department: int, doctor: Doctor) -> bool:
    """The doctor's own token, or an unassigned token of the doctor's department."""
    if token_doctor is not None:
        return token_doctor == doctor.id
    return token_department == doctor.department_id


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


def _build_claim(skip_locked: bool) -> Executable:
    """The claim UPDATE, built once per locking mode (see the module docstring)."""
    table = cast(Table, QueueToken.__table__)
    t = table.c
    locked = (
        select(t.id)
        .where(t.tenant_id == bindparam("t"), t.id == bindparam("token"), t.status == "waiting")
        .with_for_update(skip_locked=skip_locked)
        .scalar_subquery()
    )
    mine = or_(
        t.doctor_id == bindparam("doctor"),
        t.doctor_id.is_(None) & (t.department_id == bindparam("dept")),
    )
    return (
        update(table)
        .where(t.id == locked, t.tenant_id == bindparam("t"), t.status == "waiting", mine)
        .values(
            status="called",
            called_at=bindparam("now", type_=t.called_at.type),
            # the first call only (a recall, a return from the lab call again): ETA calibration
            first_called_at=func.coalesce(
                t.first_called_at, bindparam("now", type_=t.called_at.type)
            ),
            doctor_id=bindparam("doctor"),
            room=bindparam("room", type_=t.room.type),
            version=t.version + 1,
        )
        .returning(
            t.id, t.code, t.kind, t.patient_id, t.doctor_id, t.department_id, t.room, t.recall_count
        )
    )


_CLAIM = {True: _build_claim(True), False: _build_claim(False)}


def _claim(
    session: Session,
    tenant_id: int,
    token_id: int,
    doctor: Doctor,
    room: str | None,
    now: dt.datetime,
    *,
    skip_locked: bool,
) -> CalledToken | None:
    """Compare-and-set one token from waiting to called; None if another caller got it."""
    params = {
        "token": token_id,
        "t": tenant_id,
        "doctor": doctor.id,
        "dept": doctor.department_id,
        "now": now,
        "room": room,
    }
    row = session.connection().execute(_CLAIM[skip_locked], params).first()
    if row is None:
        return None
    token_id, code, kind, patient_id, _doctor, department_id, room, recalls = row
    return CalledToken(
        token_id, code, kind, patient_id, doctor.id, department_id, room, recalls, called_at=now
    )


def _still_waiting(session: Session, token_id: int) -> bool:
    """Whether the token is still waiting as last committed (a plain, lock-free read)."""
    status = (
        session.connection()
        .execute(select(QueueToken.status).where(QueueToken.id == token_id))
        .scalar()
    )
    return status == "waiting"


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
