"""What a patient's own token page shows: place, ETA, doctor and room; a masked name only.

The place is counted among people still *waiting* in the same line: a patient already called
or inside the room is being seen, not ahead of you (the ETA still allows for that consultation).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.context import Actor, load_owned, tenant_of
from core.patients.views import masked_name
from core.queue.place import queue_place
from core.queue.wait_estimate import doctor_queue_etas, pool_order
from db.models import Branch, Department, Doctor, Patient, QueueToken, Tenant


@dataclass(frozen=True)
class TokenView:
    """A token as its holder sees it; ``position`` and ``eta`` only while waiting.

    ``position`` is 1 for the next person to be called; ``ahead`` = waiting people before you.
    """

    token_id: int
    code: str
    name: str
    status: str
    clinic: str
    branch: str
    branch_id: int
    department: str
    department_id: int
    doctor: str | None
    doctor_id: int | None
    room: str | None
    position: int | None
    ahead: int | None
    minutes: int | None
    eta: dt.datetime | None
    timezone: str
    service_date: dt.date
    eta_low: dt.datetime | None = None  # the 80 % range of the call time, while waiting
    eta_high: dt.datetime | None = None


def token_view(session: Session, actor: Actor, *, token_id: int) -> TokenView:
    """Render a token of the actor's clinic for its holder's page, or raise ``NotFound``."""
    tenant_id = tenant_of(session, actor)
    token = load_owned(session, actor, QueueToken, token_id, "Token")
    clinic, branch, zone, dept = session.execute(
        select(Tenant.name, Branch.name, Branch.timezone, Department.name)
        .join(Branch, Branch.tenant_id == Tenant.id)
        .join(Department, Department.branch_id == Branch.id)
        .where(
            Tenant.id == tenant_id,
            Branch.id == token.branch_id,
            Department.id == token.department_id,
        )
    ).one()
    patient = session.get(Patient, token.patient_id)
    doctor = session.get(Doctor, token.doctor_id) if token.doctor_id else None
    position, minutes, eta, span = _place(session, actor, token)
    place = queue_place(session, tenant_id, token.department_id)
    room = token.room or (doctor.default_room if doctor else None)
    return TokenView(
        token_id=token.id,
        code=token.code,
        name=masked_name(patient.full_name) if patient and not patient.erased_at else "",
        status=token.status,
        clinic=clinic,
        branch=branch,
        branch_id=token.branch_id,
        department=dept,
        department_id=token.department_id,
        doctor=doctor.full_name if doctor else None,
        doctor_id=token.doctor_id,
        room=room,
        position=position,
        ahead=None if position is None else position - 1,
        minutes=minutes,
        eta=eta,
        timezone=zone or place.zone.key,
        service_date=token.service_date,
        eta_low=span[0],
        eta_high=span[1],
    )


_NO_SPAN: tuple[dt.datetime | None, dt.datetime | None] = (None, None)


def _place(
    session: Session, actor: Actor, token: QueueToken
) -> tuple[
    int | None, int | None, dt.datetime | None, tuple[dt.datetime | None, dt.datetime | None]
]:
    """Place among the waiting, minutes and ETA of a waiting token (doctor line or pool).

    ``doctor_queue_etas`` lists only waiting tokens, in calling order; its own ``position``
    also counts patients called but not yet seen, which are no one's "ahead" on this page.
    """
    if token.status != "waiting":
        return None, None, None, _NO_SPAN
    if token.doctor_id is not None:
        line = doctor_queue_etas(session, actor, doctor_id=token.doctor_id)
        for place, eta in enumerate(line, start=1):
            if eta.token_id == token.id:
                return place, eta.minutes, eta.eta, (eta.low, eta.high)
        return None, None, token.eta_at, _NO_SPAN
    position = _pool_position(session, actor, token)
    return position, _minutes(actor, token.eta_at), token.eta_at, _NO_SPAN


def _pool_position(session: Session, actor: Actor, token: QueueToken) -> int | None:
    """1-based place of an unassigned token among its department's, in calling order."""
    ids = pool_order(session, actor, department_id=token.department_id, day=token.service_date)
    return ids.index(token.id) + 1 if token.id in ids else None


def _minutes(actor: Actor, eta: dt.datetime | None) -> int | None:
    if eta is None:
        return None
    return max(0, round((eta - actor.clock()).total_seconds() / 60))
