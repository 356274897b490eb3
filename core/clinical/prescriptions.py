"""The prescription builder: save a visit's medicines and advice, repeat the last one.

A save is a new version of the visit's prescription (``supersedes_id``), its lines copied whole,
so what was printed stays readable after a correction. ``issued_at`` is stamped when the visit
is finished (``core.clinical.finish``); a change after that is an amendment with a reason.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit
from core.auth.permissions import require
from core.clinical.consultations import access_consultation, writable_consultation
from core.clinical.medicines import MAX_LINES, MedicineLine, checked_line
from core.context import Actor, tenant_of
from core.errors import ValidationFailed
from core.patients.views import load_patient
from db.models import Consultation, Prescription, PrescriptionItem

MAX_ADVICE = 2000


@dataclass(frozen=True)
class PrescriptionView:
    """A prescription version with its lines, for the page, the glance and the PDF."""

    id: int
    consultation_id: int
    patient_id: int
    doctor_id: int
    advice: str | None
    lines: tuple[MedicineLine, ...]
    issued_at: dt.datetime | None
    document_id: int | None
    recorded_by: int | None
    recorded_at: dt.datetime
    supersedes_id: int | None
    reason: str | None


def save_prescription(
    session: Session,
    actor: Actor,
    *,
    consultation_id: int,
    lines: Sequence[MedicineLine],
    advice: str | None = None,
    reason: str | None = None,
) -> PrescriptionView:
    """Save the visit's prescription (1–20 medicines, advice) as its newest version."""
    consultation, why = writable_consultation(
        session, actor, consultation_id, "prescription.write", reason
    )
    if not lines and not (advice or "").strip():
        raise ValidationFailed("Add a medicine or some advice", field="lines")
    if len(lines) > MAX_LINES:
        raise ValidationFailed(f"At most {MAX_LINES} medicines", field="lines")
    values = [checked_line(line, i) for i, line in enumerate(lines, start=1)]
    text = (advice or "").strip()
    if len(text) > MAX_ADVICE:
        raise ValidationFailed(f"Advice has at most {MAX_ADVICE} characters", field="advice")
    current = latest_prescription(session, consultation)
    row = Prescription(
        tenant_id=consultation.tenant_id,
        patient_id=consultation.patient_id,
        consultation_id=consultation.id,
        doctor_id=consultation.doctor_id,
        advice=text or None,
        issued_at=current.issued_at if current else None,
        recorded_by=actor.user_id,
        supersedes_id=current.id if current else None,
        correction_reason=why,
        created_at=actor.clock(),
    )
    session.add(row)
    session.flush()
    session.add_all(
        PrescriptionItem(tenant_id=row.tenant_id, prescription_id=row.id, **v) for v in values
    )
    session.flush()
    audit.record(
        session,
        actor,
        "prescription.save",
        entity="consultation",
        entity_id=consultation.id,
        detail={"row": row.id, "lines": len(values)},
    )
    return prescription_view(session, row)


def latest_prescription(session: Session, consultation: Consultation) -> Prescription | None:
    """The current version of the visit's prescription, if any."""
    return session.scalar(
        select(Prescription)
        .where(Prescription.tenant_id == consultation.tenant_id)
        .where(Prescription.consultation_id == consultation.id)
        .order_by(Prescription.id.desc())
        .limit(1)
    )


def prescription_view(session: Session, row: Prescription) -> PrescriptionView:
    """Read a prescription version's lines into a view (no access check: callers did it)."""
    items = session.scalars(
        select(PrescriptionItem)
        .where(PrescriptionItem.tenant_id == row.tenant_id)
        .where(PrescriptionItem.prescription_id == row.id)
        .order_by(PrescriptionItem.position)
    ).all()
    return view_of(row, items)


def view_of(row: Prescription, items: Sequence[PrescriptionItem]) -> PrescriptionView:
    lines = tuple(
        MedicineLine(
            medicine=i.medicine,
            dosage_pattern=i.dosage_pattern,
            strength=i.strength,
            timing=i.timing,
            duration_days=i.duration_days,
            instructions=i.instructions,
        )
        for i in items
    )
    return PrescriptionView(
        id=row.id,
        consultation_id=row.consultation_id,
        patient_id=row.patient_id,
        doctor_id=row.doctor_id,
        advice=row.advice,
        lines=lines,
        issued_at=row.issued_at,
        document_id=row.document_id,
        recorded_by=row.recorded_by,
        recorded_at=row.created_at,
        supersedes_id=row.supersedes_id,
        reason=row.correction_reason,
    )


def last_prescription(
    session: Session, actor: Actor, *, patient_id: int, before_consultation_id: int | None = None
) -> PrescriptionView | None:
    """The patient's latest issued prescription (of an earlier visit than the one given)."""
    require(actor, "clinical.read")
    tenant_id = tenant_of(session, actor)
    load_patient(session, tenant_id, patient_id)
    query = (
        select(Prescription)
        .where(Prescription.tenant_id == tenant_id, Prescription.patient_id == patient_id)
        .where(Prescription.issued_at.is_not(None))
        .order_by(Prescription.issued_at.desc(), Prescription.id.desc())
        .limit(1)
    )
    if before_consultation_id is not None:
        query = query.where(Prescription.consultation_id != before_consultation_id)
    row = session.scalar(query)
    if row is None:
        return None
    audit.record(session, actor, "prescription.read", entity="prescription", entity_id=row.id)
    return prescription_view(session, row)


def repeat_last_prescription(
    session: Session, actor: Actor, *, consultation_id: int
) -> PrescriptionView:
    """Copy the patient's previous issued prescription into this visit as its newest version."""
    consultation = access_consultation(session, actor, consultation_id)
    previous = last_prescription(
        session, actor, patient_id=consultation.patient_id, before_consultation_id=consultation.id
    )
    if previous is None:
        raise ValidationFailed("This patient has no earlier prescription to repeat")
    return save_prescription(
        session,
        actor,
        consultation_id=consultation.id,
        lines=previous.lines,
        advice=previous.advice,
    )


def suggest_follow_up(lines: Sequence[MedicineLine], visit_day: dt.date) -> dt.date | None:
    """Suggest a review when the first course runs out (the shortest ``duration_days``)."""
    days = [line.duration_days for line in lines if line.duration_days]
    return visit_day + dt.timedelta(days=min(days)) if days else None
