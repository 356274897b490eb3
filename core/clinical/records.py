"""Write the consultation record: vitals, notes and diagnoses, each save a new version.

Nothing clinical is updated or deleted: a save writes a row whose ``supersedes_id`` names the
version it replaces, with ``recorded_by``, ``created_at`` and (for amendments of a final record,
and always for a retraction) ``correction_reason``. Only doctors write (``clinical.write``,
``diagnosis.write``); every write is audited with ids and field names, never values.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit
from core.auth.permissions import require
from core.clinical.consultations import check_reason, writable_consultation
from core.clinical.icd10 import icd10_title, normalise_code
from core.clinical.vitals import VitalsInput, checked_vitals
from core.context import Actor, load_owned
from core.errors import Conflict, ValidationFailed
from db.models import Consultation, ConsultationNote, Diagnosis, Vitals

NOTE_FIELDS = ("chief_complaint", "examination", "treatment_plan")
MAX_NOTE = 5000
MAX_DIAGNOSIS = 300
FOLLOW_UP_MAX_DAYS = 366
RowT = TypeVar("RowT", ConsultationNote, Vitals)


def record_vitals(
    session: Session,
    actor: Actor,
    *,
    consultation_id: int,
    vitals: VitalsInput,
    reason: str | None = None,
) -> Vitals:
    """Save the visit's vitals as a new version (BMI computed; ranges in ``VitalsInput``)."""
    consultation, why = writable_consultation(
        session, actor, consultation_id, "clinical.write", reason
    )
    values = checked_vitals(vitals)
    row = _version(session, actor, consultation, Vitals, why, values)
    _audit(session, actor, "vitals.record", row, sorted(k for k, v in values.items() if v))
    return row


def record_notes(
    session: Session,
    actor: Actor,
    *,
    consultation_id: int,
    chief_complaint: str | None = None,
    examination: str | None = None,
    treatment_plan: str | None = None,
    follow_up_date: dt.date | None = None,
    reason: str | None = None,
) -> ConsultationNote:
    """Save complaint, examination, plan and follow-up as a new version of the visit's notes.

    A field left ``None`` keeps its current text; ``""`` clears it. The follow-up date is after
    the visit and within a year.
    """
    consultation, why = writable_consultation(
        session, actor, consultation_id, "clinical.write", reason
    )
    given = {
        "chief_complaint": chief_complaint,
        "examination": examination,
        "treatment_plan": treatment_plan,
    }
    current = latest(session, ConsultationNote, consultation)
    values: dict[str, Any] = {f: _note(f, v, current) for f, v in given.items()}
    values["follow_up_date"] = (
        check_follow_up(follow_up_date, consultation, actor)
        if follow_up_date is not None
        else (current.follow_up_date if current else None)
    )
    row = _version(session, actor, consultation, ConsultationNote, why, values)
    changed = sorted(f for f, v in given.items() if v is not None)
    _audit(session, actor, "notes.record", row, changed)
    return row


def add_diagnosis(
    session: Session,
    actor: Actor,
    *,
    consultation_id: int,
    description: str | None = None,
    icd10_code: str | None = None,
    primary: bool = True,
) -> Diagnosis:
    """Add a diagnosis (ICD-10-CM code and/or text; the code's title when no text is given).

    One current primary diagnosis per visit: add further ones as secondary, or amend it.
    """
    consultation, why = writable_consultation(
        session, actor, consultation_id, "diagnosis.write", None
    )
    code, text = _diagnosis_text(icd10_code, description)
    if primary and _current_primary(session, consultation) is not None:
        raise ValidationFailed(
            "This visit already has a primary diagnosis: add this one as secondary or amend it",
            field="primary",
        )
    row = _diagnosis_row(actor, consultation, code, text, primary, None, why)
    session.add(row)
    session.flush()
    _audit(session, actor, "diagnosis.add", row, ["icd10_code"] if code else [])
    return row


def amend_diagnosis(
    session: Session,
    actor: Actor,
    *,
    diagnosis_id: int,
    description: str | None = None,
    icd10_code: str | None = None,
    primary: bool | None = None,
    reason: str | None = None,
) -> Diagnosis:
    """Correct a current diagnosis: a new version superseding it (a reason once final)."""
    old, consultation, why = _current_diagnosis(session, actor, diagnosis_id, reason, False)
    code, text = _diagnosis_text(
        icd10_code if icd10_code is not None else old.icd10_code,
        description if description is not None else (None if icd10_code else old.description),
    )
    is_primary = old.is_primary if primary is None else primary
    if is_primary and not old.is_primary and _current_primary(session, consultation):
        raise ValidationFailed("This visit already has a primary diagnosis", field="primary")
    row = _diagnosis_row(actor, consultation, code, text, is_primary, old.id, why)
    session.add(row)
    session.flush()
    _audit(session, actor, "diagnosis.amend", row, ["supersedes"])
    return row


def retract_diagnosis(
    session: Session, actor: Actor, *, diagnosis_id: int, reason: str
) -> Diagnosis:
    """Withdraw a diagnosis made in error: a retracted version with the reason; kept in history."""
    old, consultation, why = _current_diagnosis(session, actor, diagnosis_id, reason, True)
    row = _diagnosis_row(
        actor, consultation, old.icd10_code, old.description, old.is_primary, old.id, why
    )
    row.retracted = True
    session.add(row)
    session.flush()
    _audit(session, actor, "diagnosis.retract", row, ["retracted"])
    return row


def latest(session: Session, model: type[RowT], consultation: Consultation) -> RowT | None:
    """The current version of a one-per-visit record (the newest row)."""
    return session.scalar(
        select(model)
        .where(model.tenant_id == consultation.tenant_id)
        .where(model.consultation_id == consultation.id)
        .order_by(model.id.desc())
        .limit(1)
    )


def current_diagnoses(session: Session, consultation: Consultation) -> list[Diagnosis]:
    """The visit's diagnoses not superseded by a later version and not retracted."""
    rows = session.scalars(
        select(Diagnosis)
        .where(Diagnosis.tenant_id == consultation.tenant_id)
        .where(Diagnosis.consultation_id == consultation.id)
        .order_by(Diagnosis.id)
    ).all()
    replaced = {r.supersedes_id for r in rows if r.supersedes_id}
    live = [r for r in rows if r.id not in replaced and not r.retracted]
    return sorted(live, key=lambda r: (not r.is_primary, r.id))


def check_follow_up(when: dt.date, consultation: Consultation, actor: Actor) -> dt.date:
    """Validate a follow-up date: after the visit and within a year."""
    visit_day = consultation.started_at.date()
    if when <= visit_day:
        raise ValidationFailed("The follow-up date must be after the visit", field="follow_up_date")
    if (when - visit_day).days > FOLLOW_UP_MAX_DAYS:
        raise ValidationFailed("The follow-up date must be within a year", field="follow_up_date")
    return when


def _version(
    session: Session,
    actor: Actor,
    consultation: Consultation,
    model: type[RowT],
    why: str | None,
    values: dict[str, Any],
) -> RowT:
    current = latest(session, model, consultation)
    row = model(
        tenant_id=consultation.tenant_id,
        patient_id=consultation.patient_id,
        consultation_id=consultation.id,
        recorded_by=actor.user_id,
        supersedes_id=current.id if current else None,
        correction_reason=why,
        created_at=actor.clock(),
        **values,
    )
    session.add(row)
    session.flush()
    return row


def _note(field: str, value: str | None, current: ConsultationNote | None) -> str | None:
    if value is None:
        return getattr(current, field) if current else None
    text = value.strip()
    if len(text) > MAX_NOTE:
        raise ValidationFailed(f"At most {MAX_NOTE} characters", field=field)
    return text or None


def _diagnosis_text(code: str | None, description: str | None) -> tuple[str | None, str]:
    normal = normalise_code(code) if code else None
    text = (description or "").strip() or (icd10_title(normal) if normal else "")
    if normal:
        icd10_title(normal)  # refuses a well-formed code that does not exist
    if not text:
        raise ValidationFailed("Give a diagnosis or an ICD-10 code", field="description")
    if len(text) > MAX_DIAGNOSIS:
        raise ValidationFailed(f"At most {MAX_DIAGNOSIS} characters", field="description")
    return normal, text


def _diagnosis_row(
    actor: Actor,
    consultation: Consultation,
    code: str | None,
    text: str,
    primary: bool,
    supersedes: int | None,
    why: str | None,
) -> Diagnosis:
    return Diagnosis(
        tenant_id=consultation.tenant_id,
        patient_id=consultation.patient_id,
        consultation_id=consultation.id,
        icd10_code=code,
        description=text,
        is_primary=primary,
        retracted=False,
        recorded_by=actor.user_id,
        supersedes_id=supersedes,
        correction_reason=why,
        created_at=actor.clock(),
    )


def _current_primary(session: Session, consultation: Consultation) -> Diagnosis | None:
    return next((d for d in current_diagnoses(session, consultation) if d.is_primary), None)


def _current_diagnosis(
    session: Session, actor: Actor, diagnosis_id: int, reason: str | None, always: bool
) -> tuple[Diagnosis, Consultation, str | None]:
    require(actor, "diagnosis.write")
    old = load_owned(session, actor, Diagnosis, diagnosis_id, "Diagnosis")
    consultation, why = writable_consultation(
        session, actor, old.consultation_id, "diagnosis.write", reason
    )
    if always:
        why = check_reason(reason, required=True)
    if old.id not in {d.id for d in current_diagnoses(session, consultation)}:
        raise Conflict("That diagnosis was already amended or retracted: refresh the record")
    return old, consultation, why


def _audit(session: Session, actor: Actor, action: str, row: Any, fields: list[str]) -> None:
    audit.record(
        session,
        actor,
        action,
        entity="consultation",
        entity_id=row.consultation_id,
        detail={"row": row.id, "fields": fields},
    )
