"""Committed queue events → screen updates, rendered once per branch and sent to every screen.

Each update names the event (type, token code, masked name, room, doctor, department) and
carries the *state after it* of every lane and pool it touched, so a screen never has to guess
or replay arithmetic: it replaces those lanes. Within one batch a lane is rendered once and rides
on the last event that touched it. Unknown event types (the token engine grows new ones) are
handled the same way: whatever doctor and department they name is re-rendered.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.context import Actor
from core.patients.views import masked_name
from core.signage.board import CALL_EVENTS, Call, Notice, branch_notices, service_day
from core.signage.branches import BranchRef, own_branch
from core.signage.feed import EventRow
from core.signage.lanes import Lane, Pool, department_pool, doctor_lane
from db.models import Department, Doctor, Patient, QueueToken

ANNOUNCEMENTS_CHANGED = "AnnouncementsChanged"  # appended by core.signage.announcements


@dataclass(frozen=True)
class TokenFacts:
    """The token an event is about, as the screen may show it."""

    id: int
    code: str
    name: str
    status: str
    room: str | None
    doctor_id: int | None
    department_id: int


@dataclass(frozen=True)
class Update:
    """One event for the screens, with the lanes and pools it changed (state after)."""

    id: int
    type: str
    at: dt.datetime
    department_id: int | None
    doctor_id: int | None
    doctor: str | None
    token: TokenFacts | None
    call: Call | None
    lanes: tuple[Lane, ...] = ()
    pools: tuple[Pool, ...] = ()
    # The branch's announcements after an ``AnnouncementsChanged`` event, else None.
    notices: tuple[Notice, ...] | None = None

    def touches(self, department_ids: frozenset[int]) -> bool:
        """Tell whether a screen showing ``department_ids`` should receive this update."""
        return (
            self.notices is not None
            or self.department_id in department_ids
            or any(lane.department_id in department_ids for lane in self.lanes)
            or any(pool.department_id in department_ids for pool in self.pools)
        )


def render_updates(
    session: Session,
    actor: Actor,
    branch: BranchRef,
    events: Sequence[EventRow],
    *,
    with_state: bool = True,
) -> list[Update]:
    """Render ``events`` (one branch, id order); lanes and pools only when ``with_state``.

    Raises ``NotFound`` when ``branch`` is not the actor's clinic's.
    """
    own_branch(session, actor, branch)
    if not events:
        return []
    tokens = _token_facts(session, branch.tenant_id, {e.token_id for e in events if e.token_id})
    doctors = _doctor_names(session, branch, events, tokens)
    lanes: dict[int, tuple[Lane, ...]] = {}
    pools: dict[int, tuple[Pool, ...]] = {}
    if with_state:
        lanes, pools = _state_after(session, actor, branch, events, tokens, set(doctors))
    notices = None
    if any(e.type == ANNOUNCEMENTS_CHANGED for e in events):  # read once per batch
        notices = tuple(branch_notices(session, actor, branch))
    updates = [
        _update(e, tokens, doctors, lanes.get(i, ()), pools.get(i, ()))
        for i, e in enumerate(events)
    ]
    return [replace(u, notices=notices) if u.type == ANNOUNCEMENTS_CHANGED else u for u in updates]


def _update(
    event: EventRow,
    tokens: dict[int, TokenFacts],
    doctors: dict[int, str],
    lanes: tuple[Lane, ...],
    pools: tuple[Pool, ...],
) -> Update:
    token = tokens.get(event.token_id) if event.token_id else None
    doctor = doctors.get(event.doctor_id) if event.doctor_id else None
    department_id = event.department_id or (token.department_id if token else None)
    call = None
    if token is not None and event.type in CALL_EVENTS:
        room = event.payload.get("room")
        recalls = event.payload.get("recall_count")
        call = Call(
            event_id=event.id,
            code=token.code,
            name=token.name,
            room=room if isinstance(room, str) else token.room,
            doctor=doctor,
            department_code=None,
            at=event.created_at,
            recall_count=recalls if isinstance(recalls, int) else 0,
        )
    return Update(
        event.id,
        event.type,
        event.created_at,
        department_id,
        event.doctor_id,
        doctor,
        token,
        call,
        lanes,
        pools,
    )


def _state_after(
    session: Session,
    actor: Actor,
    branch: BranchRef,
    events: Sequence[EventRow],
    tokens: dict[int, TokenFacts],
    branch_doctors: set[int],
) -> tuple[dict[int, tuple[Lane, ...]], dict[int, tuple[Pool, ...]]]:
    """Render each touched lane and pool once, keyed by the index of the last event touching it."""
    day = service_day(actor, branch)
    last_for_doctor: dict[int, int] = {}
    last_for_dept: dict[int, int] = {}
    for index, event in enumerate(events):
        for doctor_id in _doctors_named(event, tokens):
            if doctor_id in branch_doctors:
                last_for_doctor[doctor_id] = index
        for dept_id in _departments_named(event, tokens):
            last_for_dept[dept_id] = index
    branch_depts = _branch_departments(session, branch, set(last_for_dept))
    lanes: dict[int, list[Lane]] = {}
    for doctor_id, index in last_for_doctor.items():
        lanes.setdefault(index, []).append(
            doctor_lane(session, actor, doctor_id=doctor_id, day=day)
        )
    pools: dict[int, list[Pool]] = {}
    for dept_id, index in last_for_dept.items():
        if dept_id in branch_depts:
            pools.setdefault(index, []).append(
                department_pool(session, actor, department_id=dept_id, day=day)
            )
    return (
        {i: tuple(v) for i, v in lanes.items()},
        {i: tuple(v) for i, v in pools.items()},
    )


def _doctors_named(event: EventRow, tokens: dict[int, TokenFacts]) -> set[int]:
    """The event's doctor, any ``*doctor_id`` in its payload, and its token's current doctor."""
    named = {event.doctor_id} if event.doctor_id else set()
    for key, value in event.payload.items():
        if key.endswith("doctor_id") and isinstance(value, int) and not isinstance(value, bool):
            named.add(value)
    token = tokens.get(event.token_id) if event.token_id else None
    if token is not None and token.doctor_id:
        named.add(token.doctor_id)
    return named


def _departments_named(event: EventRow, tokens: dict[int, TokenFacts]) -> set[int]:
    named = {event.department_id} if event.department_id else set()
    for key, value in event.payload.items():
        if key.endswith("department_id") and isinstance(value, int) and not isinstance(value, bool):
            named.add(value)
    token = tokens.get(event.token_id) if event.token_id else None
    if token is not None:
        named.add(token.department_id)
    return named


def _token_facts(session: Session, tenant_id: int, ids: set[int | None]) -> dict[int, TokenFacts]:
    wanted = [i for i in ids if i]
    if not wanted:
        return {}
    rows = session.execute(
        select(
            QueueToken.id,
            QueueToken.code,
            Patient.full_name,
            QueueToken.status,
            QueueToken.room,
            QueueToken.doctor_id,
            QueueToken.department_id,
        )
        .join(Patient, Patient.id == QueueToken.patient_id)
        .where(QueueToken.tenant_id == tenant_id, QueueToken.id.in_(wanted))
    ).all()
    return {r[0]: TokenFacts(r[0], r[1], masked_name(r[2]), r[3], r[4], r[5], r[6]) for r in rows}


def _doctor_names(
    session: Session,
    branch: BranchRef,
    events: Sequence[EventRow],
    tokens: dict[int, TokenFacts],
) -> dict[int, str]:
    """Names of the branch's doctors named by the events (others are not this screen's)."""
    named: set[int] = set()
    for event in events:
        named |= _doctors_named(event, tokens)
    if not named:
        return {}
    rows = session.execute(
        select(Doctor.id, Doctor.full_name)
        .join(Department, Department.id == Doctor.department_id)
        .where(
            Doctor.tenant_id == branch.tenant_id,
            Doctor.id.in_(named),
            Department.branch_id == branch.branch_id,
        )
    ).all()
    return {doctor_id: name for doctor_id, name in rows}


def _branch_departments(session: Session, branch: BranchRef, ids: set[int]) -> set[int]:
    if not ids:
        return set()
    return set(
        session.scalars(
            select(Department.id).where(
                Department.tenant_id == branch.tenant_id,
                Department.branch_id == branch.branch_id,
                Department.id.in_(ids),
            )
        )
    )
