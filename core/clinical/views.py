"""Read a consultation's record: the latest of each part, with every version beside it.

Every read is audited (``clinical.read``), and only clinicians read: reception and the lab get
``PermissionDenied``, another clinic's doctor ``NotFound``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit
from core.clinical.consultations import access_consultation
from core.clinical.prescriptions import PrescriptionView, latest_prescription, prescription_view
from core.clinical.records import current_diagnoses, latest
from core.context import Actor
from db.models import Consultation, ConsultationNote, Diagnosis, Prescription, Vitals


@dataclass(frozen=True)
class RecordVersion:
    """One saved version of a part of the record: who, when and why."""

    part: str  # vitals | notes | diagnosis | prescription
    id: int
    supersedes_id: int | None
    recorded_by: int | None
    recorded_at: dt.datetime
    reason: str | None


@dataclass(frozen=True)
class DiagnosisView:
    id: int
    icd10_code: str | None
    description: str
    primary: bool


@dataclass(frozen=True)
class ConsultationRecord:
    """The current record of a visit (latest versions) and its full version history."""

    id: int
    patient_id: int
    doctor_id: int
    token_id: int | None
    status: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    vitals: Vitals | None
    notes: ConsultationNote | None
    diagnoses: tuple[DiagnosisView, ...]
    prescription: PrescriptionView | None
    history: tuple[RecordVersion, ...]


def consultation_record(
    session: Session, actor: Actor, *, consultation_id: int
) -> ConsultationRecord:
    """Return the visit's current record with its history; audited."""
    consultation = access_consultation(session, actor, consultation_id)
    audit.record(session, actor, "clinical.read", entity="consultation", entity_id=consultation.id)
    current = latest_prescription(session, consultation)
    return ConsultationRecord(
        id=consultation.id,
        patient_id=consultation.patient_id,
        doctor_id=consultation.doctor_id,
        token_id=consultation.token_id,
        status=consultation.status,
        started_at=consultation.started_at,
        finished_at=consultation.finished_at,
        vitals=latest(session, Vitals, consultation),
        notes=latest(session, ConsultationNote, consultation),
        diagnoses=tuple(
            DiagnosisView(d.id, d.icd10_code, d.description, d.is_primary)
            for d in current_diagnoses(session, consultation)
        ),
        prescription=prescription_view(session, current) if current else None,
        history=_history(session, consultation),
    )


def _history(session: Session, consultation: Consultation) -> tuple[RecordVersion, ...]:
    parts = (
        ("vitals", Vitals),
        ("notes", ConsultationNote),
        ("diagnosis", Diagnosis),
        ("prescription", Prescription),
    )
    versions: list[RecordVersion] = []
    for part, model in parts:
        rows = session.execute(
            select(
                model.id,
                model.supersedes_id,
                model.recorded_by,
                model.created_at,
                model.correction_reason,
            ).where(
                model.tenant_id == consultation.tenant_id,
                model.consultation_id == consultation.id,
            )
        ).all()
        versions += [RecordVersion(part, *row) for row in rows]
    return tuple(sorted(versions, key=lambda v: (v.recorded_at, v.part, v.id)))
