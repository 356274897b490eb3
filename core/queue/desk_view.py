"""The front desk's read model of a branch's queues today, and the stream mark it is valid at.

A desk screen re-reads the snapshot only when ``latest_event_id`` moved: every queue change is
an append-only event, so (branch, latest event id) names one snapshot that all open desks of
the branch can share. The lanes are the TV's (same calling order as ``call_next``); the desk
adds the day's open tokens with full names and ids for its actions, and the doctors' ids.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.auth.permissions import require
from core.context import Actor, tenant_of
from core.signage.board import Board, branch_board, service_day
from core.signage.branches import BranchRef, branch_ref
from core.tenancy import access_branch
from db.models import Appointment, Doctor, Patient, QueueEvent, QueueToken

# Tokens the desk can act on today: the active ones, and missed ones it may recall.
DESK_STATUSES = ("waiting", "called", "in_consultation", "at_lab", "missed")


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
    """Read the branch's queues today: lanes, pools, recent calls and open tokens."""
    head = latest_event_id(session, actor, branch_id=branch_id)  # checks access too
    branch = branch_ref(session, tenant_of(session, actor), branch_id)
    day = service_day(actor, branch)
    board = branch_board(session, actor, branch, codes=None, upto_event=head)
    return DeskSnapshot(branch_id, day, head, board, tuple(_open_tokens(session, branch, day)))


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


def _open_tokens(session: Session, branch: BranchRef, day: dt.date) -> list[DeskToken]:
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
    return [DeskToken(*row) for row in rows]
