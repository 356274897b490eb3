"""One doctor's lane and one department pool as the TV shows them: who is in, who is next.

The calling order of a doctor's queue comes from ``core.queue.wait_estimate.doctor_queue_etas``
(the same order ``call_next`` uses); department-pool tokens (no doctor yet) are ranked by the
queue scoring and shown in their department's pool lane, not under every doctor who could take
them.
Patients appear only as token codes and masked first names.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.context import Actor, tenant_of
from core.errors import NotFound
from core.patients.views import masked_name
from core.queue.wait_estimate import doctor_queue_etas, pool_order
from db.models import Department, Doctor, DoctorSession, Patient, QueueToken

NEXT_SHOWN = 5
SERVING = ("called", "in_consultation")


@dataclass(frozen=True)
class Ticket:
    """A token on screen: code, masked first name, status and the room it is called to."""

    code: str
    name: str
    status: str
    room: str | None = None


@dataclass(frozen=True)
class Lane:
    """A doctor's column: now serving, the next few in calling order, and how many wait."""

    doctor_id: int
    doctor: str
    room: str | None
    department_id: int
    department_code: str
    department: str
    paused: bool
    delay_minutes: int
    serving: tuple[Ticket, ...]
    next: tuple[Ticket, ...]
    waiting: int


@dataclass(frozen=True)
class Pool:
    """A department's tokens not yet assigned to a doctor, in calling order."""

    department_id: int
    department_code: str
    department: str
    next: tuple[Ticket, ...]
    waiting: int


def doctor_lane(session: Session, actor: Actor, *, doctor_id: int, day: dt.date) -> Lane:
    """Render one doctor's lane for ``day`` (the branch's service day)."""
    tenant_id = tenant_of(session, actor)
    found = session.execute(
        select(Doctor, Department)
        .join(Department, Department.id == Doctor.department_id)
        .where(Doctor.id == doctor_id, Doctor.tenant_id == tenant_id)
    ).one_or_none()
    if found is None:
        raise NotFound("Doctor not found")
    doctor, dept = found
    sitting = _session_row(session, tenant_id, doctor_id, dept.branch_id, day)
    room = (sitting.room if sitting else None) or doctor.default_room
    own = _own_waiting(session, tenant_id, doctor_id, actor)
    return Lane(
        doctor_id=doctor.id,
        doctor=doctor.full_name,
        room=room,
        department_id=dept.id,
        department_code=dept.code,
        department=dept.name,
        paused=bool(sitting and sitting.status == "paused"),
        delay_minutes=(sitting.delay_minutes or 0) if sitting else 0,
        serving=tuple(_serving(session, tenant_id, doctor_id, day)),
        next=tuple(own[:NEXT_SHOWN]),
        waiting=len(own),
    )


def department_pool(session: Session, actor: Actor, *, department_id: int, day: dt.date) -> Pool:
    """Render a department's unassigned waiting tokens for ``day``, in calling order."""
    tenant_id = tenant_of(session, actor)
    order = pool_order(session, actor, department_id=department_id, day=day)  # NotFound if not ours
    dept = session.get(Department, department_id)
    assert dept is not None  # pool_order found it in this clinic
    shown = _tickets(session, tenant_id, order[:NEXT_SHOWN])
    return Pool(dept.id, dept.code, dept.name, tuple(shown), len(order))


def _own_waiting(session: Session, tenant_id: int, doctor_id: int, actor: Actor) -> list[Ticket]:
    """The doctor's own waiting tokens in calling order (pool tokens are shown in the pool)."""
    etas = doctor_queue_etas(session, actor, doctor_id=doctor_id)
    rows = session.execute(
        select(QueueToken.id, QueueToken.code, QueueToken.doctor_id, Patient.full_name)
        .join(Patient, Patient.id == QueueToken.patient_id)
        .where(QueueToken.tenant_id == tenant_id, QueueToken.id.in_([e.token_id for e in etas]))
    ).all()
    by_id = {r.id: r for r in rows if r.doctor_id == doctor_id}
    return [
        Ticket(by_id[e.token_id].code, masked_name(by_id[e.token_id].full_name), "waiting")
        for e in etas
        if e.token_id in by_id
    ]


def _serving(session: Session, tenant_id: int, doctor_id: int, day: dt.date) -> list[Ticket]:
    """Tokens called to or inside the doctor's room, most recent call first."""
    rows = session.execute(
        select(QueueToken.code, Patient.full_name, QueueToken.status, QueueToken.room)
        .join(Patient, Patient.id == QueueToken.patient_id)
        .where(
            QueueToken.tenant_id == tenant_id,
            QueueToken.doctor_id == doctor_id,
            QueueToken.service_date == day,
            QueueToken.status.in_(SERVING),
        )
        .order_by(QueueToken.called_at.desc(), QueueToken.id.desc())
        .limit(3)
    ).all()
    return [Ticket(code, masked_name(name), status, room) for code, name, status, room in rows]


def _tickets(session: Session, tenant_id: int, ids: Sequence[int]) -> list[Ticket]:
    """Waiting tickets for token ids, kept in the given order."""
    if not ids:
        return []
    rows = session.execute(
        select(QueueToken.id, QueueToken.code, Patient.full_name)
        .join(Patient, Patient.id == QueueToken.patient_id)
        .where(QueueToken.tenant_id == tenant_id, QueueToken.id.in_(ids))
    ).all()
    by_id = {r.id: Ticket(r.code, masked_name(r.full_name), "waiting") for r in rows}
    return [by_id[i] for i in ids if i in by_id]


def _session_row(
    session: Session, tenant_id: int, doctor_id: int, branch_id: int, day: dt.date
) -> DoctorSession | None:
    return session.scalar(
        select(DoctorSession).where(
            DoctorSession.tenant_id == tenant_id,
            DoctorSession.doctor_id == doctor_id,
            DoctorSession.branch_id == branch_id,
            DoctorSession.service_date == day,
        )
    )
