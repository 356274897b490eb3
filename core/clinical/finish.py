"""Finish the visit in one transaction: record final, prescription issued, bill, token done.

The prescription PDF is not rendered here: a ``clinical.prescription_pdf`` outbox row is
written and the worker renders, stores and sends it after commit (``core.clinical.delivery``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, update
from sqlalchemy.orm import Session

from core import audit
from core.auth.permissions import require
from core.billing.bills import open_bill
from core.clinical.consultations import FINAL, OPEN, access_consultation
from core.clinical.delivery import queue_prescription_pdf
from core.clinical.prescriptions import latest_prescription
from core.context import Actor
from core.errors import Conflict, ValidationFailed
from core.queue.lifecycle import access_token, finish_token
from db.models import Consultation, Prescription


@dataclass(frozen=True)
class FinishedVisit:
    """What finishing produced: the bill for the desk and the PDF job, if any."""

    consultation_id: int
    prescription_id: int | None
    bill_id: int | None
    bill_number: str | None
    pdf_job_id: int | None


def finish_visit(session: Session, actor: Actor, *, consultation_id: int) -> FinishedVisit:
    """End the consultation: final record, issued prescription, bill raised, token finished.

    Idempotent: finishing a finished visit returns the same bill and job and writes nothing.
    The bill is raised on the desk's behalf (a doctor has no ``billing.write``); its audit
    entry names the doctor. Locks: the consultation row (compare-and-set) and the token's.
    """
    require(actor, "prescription.write")
    consultation = access_consultation(session, actor, consultation_id)
    if consultation.token_id is None:
        raise ValidationFailed("This consultation has no token to finish", field="consultation_id")
    if consultation.status == FINAL:
        return _outcome(session, actor, consultation)
    now = actor.clock()
    changed = session.execute(
        update(Consultation)
        .where(Consultation.id == consultation.id, Consultation.status == OPEN)
        .values(status=FINAL, finished_at=now)
        .execution_options(synchronize_session=False)
    )
    if cast(CursorResult[Any], changed).rowcount != 1:
        raise Conflict("The visit was finished meanwhile: refresh")
    session.refresh(consultation)
    prescription = latest_prescription(session, consultation)
    if prescription is not None:
        session.execute(
            update(Prescription)
            .where(Prescription.id == prescription.id, Prescription.issued_at.is_(None))
            .values(issued_at=now)
            .execution_options(synchronize_session=False)
        )
        queue_prescription_pdf(
            session, actor, prescription_id=prescription.id, tenant_id=consultation.tenant_id
        )
    token = access_token(session, actor, consultation.token_id)
    if token.status == "in_consultation":
        finish_token(session, actor, token_id=token.id)
    audit.record(
        session, actor, "consultation.finish", entity="consultation", entity_id=consultation.id
    )
    return _outcome(session, actor, consultation)


def _outcome(session: Session, actor: Actor, consultation: Consultation) -> FinishedVisit:
    assert consultation.token_id is not None
    desk = dataclasses.replace(actor, role="system")  # the desk's bill, raised by the doctor
    bill = open_bill(session, desk, token_id=consultation.token_id)
    prescription = latest_prescription(session, consultation)
    job = (
        queue_prescription_pdf(
            session, actor, prescription_id=prescription.id, tenant_id=consultation.tenant_id
        )
        if prescription is not None
        else None
    )
    return FinishedVisit(
        consultation_id=consultation.id,
        prescription_id=prescription.id if prescription else None,
        bill_id=bill.id,
        bill_number=bill.number,
        pdf_job_id=job.id if job else None,
    )
