"""The front desk's read model of a branch's queues today, and the stream mark it is valid at.

A desk screen re-reads the snapshot only when ``latest_event_id`` moved: every queue change is
an append-only event, so (branch, latest event id) names one snapshot that all open desks of
the branch can share. The lanes are the TV's (same calling order as ``call_next``); the desk
adds the day's open tokens with full names and ids for its actions, and the doctors' ids.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.auth.permissions import require
from core.context import Actor, tenant_of
from core.patients.views import masked_name
from core.signage.board import Board, DepartmentInfo, departments, service_day, working_doctors
from core.signage.branches import BranchRef, branch_ref
from core.signage.lanes import NEXT_SHOWN, SERVING, Lane, Pool, Ticket
from core.tenancy import access_branch
from db.models import (
    Appointment,
    Department,
    Doctor,
    DoctorSession,
    Patient,
    QueueEvent,
    QueueToken,
)

# Tokens the desk can act on today: the active ones, and missed ones it may recall.
DESK_STATUSES = ("waiting", "called", "in_consultation", "at_lab", "missed")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class DeskToken:
    """A token open today, as the desk acts on it (full name: staff may see it)."""

    id: int
    code: str
    kind: str
    status: str
    patient_name: str
    patient_code: str
    doctor_id: int | None
    department_id: int
    eta: dt.datetime | None


@dataclass(frozen=True)
class DeskSnapshot:
    """A branch's queues today as of ``event_id``: the lanes and pools, and the open tokens."""

    branch_id: int
    day: dt.date
    event_id: int
    board: Board
    tokens: tuple[DeskToken, ...]


@dataclass(frozen=True)
class TodaysAppointment:
    """A patient's appointment today that the desk can check in."""

    id: int
    doctor_id: int
    doctor: str
    department_id: int
    slot_start: dt.datetime
    status: str


def latest_event_id(session: Session, actor: Actor, *, branch_id: int) -> int:
    """Return the newest queue event id of the branch (0 before any); one indexed read."""
    require(actor, "queue.read")
    tenant_id = tenant_of(session, actor)
    access_branch(session, actor, branch_id)
    head = session.scalar(
        select(func.max(QueueEvent.id)).where(
            QueueEvent.tenant_id == tenant_id, QueueEvent.branch_id == branch_id
        )
    )
    return int(head or 0)


def desk_snapshot(session: Session, actor: Actor, *, branch_id: int) -> DeskSnapshot:
    """Read the branch's queues today: a lane per working doctor, pools and open tokens.

    A fixed handful of statements whatever the number of doctors: the lanes are grouped from
    one read of the day's open tokens, waiting ones ordered by their projected ETA (kept by
    every queue event), so the desk's "next" matches the calling order without re-ranking.
    """
    head = latest_event_id(session, actor, branch_id=branch_id)  # checks access too
    branch = branch_ref(session, tenant_of(session, actor), branch_id)
    day = service_day(actor, branch)
    depts = departments(session, branch, None)
    working = working_doctors(session, branch, [d.id for d in depts], day)
    tokens = _open_tokens(session, branch, day)
    lanes = _lanes(session, branch, day, working, tokens)
    board = Board(tuple(depts), tuple(lanes), tuple(_pools(depts, tokens)), (), ())
    return DeskSnapshot(branch_id, day, head, board, tuple(t for t, _ in tokens))


def _lanes(
    session: Session,
    branch: BranchRef,
    day: dt.date,
    working: list[int],
    tokens: list[tuple[DeskToken, _Extra]],
) -> list[Lane]:
    if not working:
        return []
    doctors = session.execute(
        select(Doctor.id, Doctor.full_name, Doctor.default_room, Department)
        .join(Department, Department.id == Doctor.department_id)
        .where(Doctor.tenant_id == branch.tenant_id, Doctor.id.in_(working))
    ).all()
    sittings = {
        row.doctor_id: row
        for row in session.scalars(
            select(DoctorSession).where(
                DoctorSession.tenant_id == branch.tenant_id,
                DoctorSession.branch_id == branch.branch_id,
                DoctorSession.service_date == day,
            )
        )
    }
    by_id = {d.id: d for d in doctors}
    return [_lane(by_id[i], sittings.get(i), tokens) for i in working if i in by_id]


def _lane(
    doctor: Any, sitting: DoctorSession | None, tokens: list[tuple[DeskToken, _Extra]]
) -> Lane:
    mine = [(t, x) for t, x in tokens if t.doctor_id == doctor.id]
    serving = sorted(
        (p for p in mine if p[0].status in SERVING),
        key=lambda p: p[1].called_at or _EPOCH,
        reverse=True,
    )
    waiting = _in_order([p for p in mine if p[0].status == "waiting"])
    dept = doctor.Department
    return Lane(
        doctor_id=doctor.id,
        doctor=doctor.full_name,
        room=(sitting.room if sitting else None) or doctor.default_room,
        department_id=dept.id,
        department_code=dept.code,
        department=dept.name,
        paused=bool(sitting and sitting.status == "paused"),
        delay_minutes=(sitting.delay_minutes or 0) if sitting else 0,
        serving=tuple(_ticket(t, x) for t, x in serving[:3]),
        next=tuple(_ticket(t, x) for t, x in waiting[:NEXT_SHOWN]),
        waiting=len(waiting),
    )


def _pools(depts: list[DepartmentInfo], tokens: list[tuple[DeskToken, _Extra]]) -> list[Pool]:
    pools = []
    for d in depts:
        waiting = _in_order(
            [
                p
                for p in tokens
                if p[0].doctor_id is None
                and p[0].department_id == d.id
                and p[0].status == "waiting"
            ]
        )
        if waiting:
            shown = tuple(_ticket(t, x) for t, x in waiting[:NEXT_SHOWN])
            pools.append(Pool(d.id, d.code, d.name, shown, len(waiting)))
    return pools


def _in_order(pairs: list[tuple[DeskToken, _Extra]]) -> list[tuple[DeskToken, _Extra]]:
    return sorted(pairs, key=lambda p: (p[0].eta is None, p[0].eta or _EPOCH, p[1].number))


def _ticket(token: DeskToken, extra: _Extra) -> Ticket:
    return Ticket(token.code, masked_name(token.patient_name), token.status, extra.room)


def todays_appointments(
    session: Session, actor: Actor, *, patient_id: int, branch_id: int
) -> list[TodaysAppointment]:
    """Return the patient's appointments today at the branch still to be checked in."""
    require(actor, "appointment.read")
    tenant_id = tenant_of(session, actor)
    branch = branch_ref(session, tenant_id, access_branch(session, actor, branch_id).id)
    rows = session.execute(
        select(Appointment, Doctor.full_name)
        .join(Doctor, Doctor.id == Appointment.doctor_id)
        .where(
            Appointment.tenant_id == tenant_id,
            Appointment.patient_id == patient_id,
            Appointment.branch_id == branch_id,
            Appointment.service_date == service_day(actor, branch),
            Appointment.status == "scheduled",
        )
        .order_by(Appointment.slot_start)
    ).all()
    return [
        TodaysAppointment(a.id, a.doctor_id, name, a.department_id, a.slot_start, a.status)
        for a, name in rows
    ]


@dataclass(frozen=True)
class _Extra:
    number: int
    room: str | None
    called_at: dt.datetime | None


def _open_tokens(
    session: Session, branch: BranchRef, day: dt.date
) -> list[tuple[DeskToken, _Extra]]:
    tenant_id, branch_id = branch.tenant_id, branch.branch_id
    rows = session.execute(
        select(
            QueueToken.id,
            QueueToken.code,
            QueueToken.kind,
            QueueToken.status,
            Patient.full_name,
            Patient.code,
            QueueToken.doctor_id,
            QueueToken.department_id,
            QueueToken.eta_at,
            QueueToken.number,
            QueueToken.room,
            QueueToken.called_at,
        )
        .join(Patient, Patient.id == QueueToken.patient_id)
        .where(
            QueueToken.tenant_id == tenant_id,
            QueueToken.branch_id == branch_id,
            QueueToken.service_date == day,
            QueueToken.status.in_(DESK_STATUSES),
        )
        .order_by(QueueToken.code)
    ).all()
    return [(DeskToken(*row[:9]), _Extra(row.number, row.room, row.called_at)) for row in rows]
