"""Patients back from the lab: which of a doctor's tokens today have their results ready.

``core.clinical.lab`` appends a ``LabResultsReady`` queue event when the last open order of a
consultation is resulted (the patient re-queued as ``lab_return``). The doctor's queue column
reads the newest such event per token still to be seen (waiting, called or in consultation) to
mark the patient "results ready", abnormal ones apart. Polled with the queue, so not audited:
it names no value, only how many results are flagged; the values are read (and audited) by
``consultation_results`` when the doctor opens the visit.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.auth.permissions import require
from core.clinical.lab import RESULTS_READY
from core.context import Actor, load_owned, tenant_of
from core.queue.place import queue_place
from db.models import Doctor, QueueEvent, QueueToken

TO_SEE = ("waiting", "called", "in_consultation")


@dataclass(frozen=True)
class ResultsBack:
    """A token of the doctor's whose lab results are ready."""

    token_id: int
    consultation_id: int | None
    abnormal: int
    at: dt.datetime


def results_back(session: Session, actor: Actor, *, doctor_id: int) -> dict[int, ResultsBack]:
    """Return the doctor's tokens today still to be seen whose results came back, by token id."""
    require(actor, "lab.read")
    tenant_id = tenant_of(session, actor)
    doctor = load_owned(session, actor, Doctor, doctor_id, "Doctor")
    today = queue_place(session, tenant_id, doctor.department_id).service_date(actor.clock())
    rows = session.execute(
        select(QueueEvent.token_id, QueueEvent.payload, QueueEvent.created_at)
        .join(
            QueueToken,
            (QueueToken.tenant_id == QueueEvent.tenant_id) & (QueueToken.id == QueueEvent.token_id),
        )
        .where(
            QueueEvent.tenant_id == tenant_id,
            QueueEvent.type == RESULTS_READY,
            QueueToken.doctor_id == doctor.id,
            QueueToken.service_date == today,
            QueueToken.status.in_(TO_SEE),
        )
        .order_by(QueueEvent.id)
    ).all()
    back: dict[int, ResultsBack] = {}
    for token_id, payload, at in rows:  # oldest first: the newest event of a token wins
        consultation = payload.get("consultation_id")
        back[token_id] = ResultsBack(
            token_id,
            int(consultation) if consultation is not None else None,
            int(payload.get("abnormal") or 0),
            at,
        )
    return back
