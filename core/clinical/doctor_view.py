"""The doctor's room: who is with the doctor now (called, in consultation, at the lab).

A read model for the doctor page beside the branch's shared queue snapshot: the snapshot names
tokens, this names the patients behind the doctor's own serving tokens (id, age, gender), so
the page can open their records. Full names: only staff of the clinic read it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.auth.permissions import require
from core.context import Actor, load_owned, tenant_of
from core.patients.views import current_age
from core.queue.place import queue_place
from db.models import Doctor, Patient, QueueToken

IN_ROOM = ("called", "in_consultation", "at_lab")


@dataclass(frozen=True)
class RoomPatient:
    """A token of the doctor's that is being served today, with its patient."""

    token_id: int
    code: str
    kind: str
    status: str
    patient_id: int
    patient_code: str
    patient_name: str
    age: int | None
    gender: str | None
    appointment_id: int | None
    called_at: dt.datetime | None
    started_at: dt.datetime | None


def in_room(session: Session, actor: Actor, *, doctor_id: int) -> list[RoomPatient]:
    """Return the doctor's tokens called, in consultation or at the lab today, newest call first."""
    require(actor, "queue.read")
    tenant_id = tenant_of(session, actor)
    doctor = load_owned(session, actor, Doctor, doctor_id, "Doctor")
    place = queue_place(session, tenant_id, doctor.department_id)
    now = actor.clock()
    today = place.service_date(now)
    rows = session.execute(
        select(QueueToken, Patient)
        .join(Patient, Patient.id == QueueToken.patient_id)
        .where(
            QueueToken.tenant_id == tenant_id,
            QueueToken.doctor_id == doctor.id,
            QueueToken.service_date == today,
            QueueToken.status.in_(IN_ROOM),
        )
        .order_by(QueueToken.called_at.desc(), QueueToken.id.desc())
    ).all()
    return [
        RoomPatient(
            token_id=t.id,
            code=t.code,
            kind=t.kind,
            status=t.status,
            patient_id=p.id,
            patient_code=p.code,
            patient_name=p.full_name,
            age=current_age(p, today),
            gender=p.gender,
            appointment_id=t.appointment_id,
            called_at=t.called_at,
            started_at=t.started_at,
        )
        for t, p in rows
    ]
