"""Calling the next token of a doctor's queue, atomically.

Candidates are read without locks and ranked in Python (``scoring.rank``); each is then claimed
by compare-and-set, best first. On PostgreSQL the claim's subquery takes the row lock with
``FOR UPDATE SKIP LOCKED``, so a concurrent caller does not queue behind a token being called.
A token skipped that way is re-read: if it is still ``waiting`` as committed (its lock was an
ETA refresh or a claim in flight), the claim waits for that lock rather than passing over the
patient whose turn it is. On SQLite the writer lock serialises callers. Either way a token
moves from ``waiting`` to ``called`` exactly once, in calling order.

With a projector (``db.engine.AFTER_COMMIT``: the service, the apps, the bench) the ETAs are
re-projected after commit, so a call reads only what it needs (``core.queue.call_sql``): the
doctor's state and the best few of their waiting tokens, ranked in SQL then exactly by ``rank``.
On PostgreSQL the calls of one doctor take the doctor's advisory lock first: under READ
COMMITTED each then reads the previous call's committed claim, instead of every concurrent
caller walking down the same candidates. The claim above stays the guard for what the lock
does not serialise: a pool token claimed by two doctors, a projector's brief row locks.
Without a projector (tests joining an outer transaction, scripts) a call reads the department's
line, as the inline ETA refresh needs it anyway.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.auth.permissions import require
from core.context import Actor, tenant_of
from core.errors import Conflict
from core.queue.call_sql import (
    CLAIM,
    STATUS,
    Caller,
    CallerState,
    caller_state,
    read_caller,
    read_candidates,
)
from core.queue.doctor_day import resume_doctor
from core.queue.events import NOW_SERVING, append_event, enqueue_intent
from core.queue.line import RECENT, load_line
from core.queue.projection import defer_refresh
from core.queue.scoring import Candidate, QueueRules, rank
from core.tenancy import access_branch
from db.engine import AFTER_COMMIT
from db.models import QueueToken


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
    Row lock: the claimed token, until commit; with a projector on PostgreSQL, the doctor's
    call lock (advisory) too. Returns None when nobody is waiting.
    """
    require(actor, "queue.call")
    tenant_id = tenant_of(session, actor)
    inline = not session.info.get(AFTER_COMMIT)
    caller = read_caller(session, tenant_id, doctor_id, lock=not inline)
    if branch_id is not None:
        access_branch(session, actor, branch_id)
    if not caller.active:
        raise Conflict("That doctor is no longer active at this clinic")
    rules = caller.place.rules
    # The lean path ranks a batch read in score order; a department load factor moves whole
    # departments up by their waiting count, which that order does not know: read the line.
    if inline or rules.load_factor_per_waiting > 0:
        return _call_from_line(session, actor, tenant_id, caller, rules, branch_id)
    return _call_lean(session, actor, tenant_id, caller, rules, branch_id)


def _call_lean(
    session: Session,
    actor: Actor,
    tenant_id: int,
    caller: Caller,
    rules: QueueRules,
    branch_id: int | None,
) -> CalledToken | None:
    """Call next reading only this doctor's state and their best few candidates.

    The projector re-reads the line after commit. ``now`` is read under the doctor's call lock,
    so ``called_at`` follows the calling order (the priority cap reads calls by it).
    """
    now = actor.clock()
    place = caller.place
    day = place.service_date(now)
    me = caller_state(session, tenant_id, caller, day, rules)
    if me.session_status == "paused":
        resume_doctor(session, actor, doctor_id=caller.doctor_id)
    called = _claim_best(session, tenant_id, caller, me, now, day, rules, branch_id)
    if called is not None:
        _announce(session, actor, called, place.branch_id)
        defer_refresh(session, tenant_id, place, now, include=caller.doctor_id)
    return called


def _claim_best(
    session: Session,
    tenant_id: int,
    caller: Caller,
    me: CallerState,
    now: dt.datetime,
    day: dt.date,
    rules: QueueRules,
    branch_id: int | None,
) -> CalledToken | None:
    """Claim the token ``rank`` puts first, reading batches until one is claimed or none waits.

    A failed claim means another caller took the token (a pool token, another doctor of the
    department) or it changed: rank what is left again with the same latest calls, and read a
    fresh batch once what is left can no longer decide (``Batch.decides``).
    """
    while True:
        batch = read_candidates(session, tenant_id, caller, day, now, rules, branch_id)
        left = batch.candidates()
        if not left:
            return None
        while batch.decides(left):
            pick = rank(left, now, rules, recent_kinds=me.recent_kinds)[0]
            called = _claim_token(session, tenant_id, pick.id, caller, me.room, now)
            if called is not None:
                return called
            left = [c for c in left if c.id != pick.id]


def _call_from_line(
    session: Session,
    actor: Actor,
    tenant_id: int,
    caller: Caller,
    rules: QueueRules,
    branch_id: int | None,
) -> CalledToken | None:
    """Call next from the department's whole line (no projector: the ETAs refresh inline)."""
    now = actor.clock()
    place = caller.place
    day = place.service_date(now)
    include = caller.doctor_id
    line = load_line(session, tenant_id, place, day, rules, include=include, since=now - RECENT)
    me = line.doctor(include)
    if me is not None and me.session_status == "paused":
        resume_doctor(session, actor, doctor_id=include)
        line = load_line(session, tenant_id, place, day, rules, include=include, since=now - RECENT)
        me = line.doctor(include)
    if me is None:
        raise Conflict("That doctor is no longer active at this clinic")
    waiting = [
        w.candidate
        for w in line.waiting
        if _is_mine(w.doctor_id, w.department_id, caller)
        and (branch_id is None or w.branch_id == branch_id)
    ]
    loads = department_loads(session, tenant_id, day, waiting, rules)
    order = rank(waiting, now, rules, recent_kinds=me.recent_kinds, load_factors=loads)
    for candidate in order:
        called = _claim_token(session, tenant_id, candidate.id, caller, me.room, now)
        if called is not None:
            _announce(session, actor, called, place.branch_id)
            after = line.after_call(include, called.id, called.kind)
            defer_refresh(session, tenant_id, place, now, include=include, line=after)
            return called
    return None


def _is_mine(token_doctor: int | None, token_department: int, caller: Caller) -> bool:
    """The doctor's own token, or an unassigned token of the doctor's department."""
    if token_doctor is not None:
        return token_doctor == caller.doctor_id
    return token_department == caller.department_id


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


def _claim_token(
    session: Session,
    tenant_id: int,
    token_id: int,
    caller: Caller,
    room: str | None,
    now: dt.datetime,
) -> CalledToken | None:
    """Claim one token (skip a locked one unless it is still waiting: then wait for it)."""
    called = _claim(session, tenant_id, token_id, caller, room, now, skip_locked=True)
    if called is None and _still_waiting(session, token_id):
        # Locked but not taken: another desk's ETA refresh or a claim not yet committed.
        # Wait for that transaction instead of passing over a patient whose turn it is.
        called = _claim(session, tenant_id, token_id, caller, room, now, skip_locked=False)
    return called


def _claim(
    session: Session,
    tenant_id: int,
    token_id: int,
    caller: Caller,
    room: str | None,
    now: dt.datetime,
    *,
    skip_locked: bool,
) -> CalledToken | None:
    """Compare-and-set one token from waiting to called; None if another caller got it."""
    params = {
        "token": token_id,
        "t": tenant_id,
        "doctor": caller.doctor_id,
        "dept": caller.department_id,
        "now": now,
        "room": room,
    }
    row = session.connection().execute(CLAIM[skip_locked], params).first()
    if row is None:
        return None
    token_id, code, kind, patient_id, _doctor, department_id, room, recalls = row
    return CalledToken(
        token_id, code, kind, patient_id, caller.doctor_id, department_id, room, recalls, now
    )


def _still_waiting(session: Session, token_id: int) -> bool:
    """Whether the token is still waiting as last committed (a plain, lock-free read)."""
    return session.connection().execute(STATUS, {"token": token_id}).scalar() == "waiting"


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
