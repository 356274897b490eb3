"""Allergies, chronic conditions and current medications: append-only, retracted not deleted."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Literal, TypeVar, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from core import audit
from core.auth.permissions import require
from core.context import Actor, tenant_of
from core.errors import Conflict, NotFound, ValidationFailed
from core.patients.validation import clean_text, required_text
from core.patients.views import load_patient, tenant_today
from db.models import PatientAllergy, PatientCondition, PatientMedication

FactKind = Literal["allergy", "condition", "medication"]
Fact = PatientAllergy | PatientCondition | PatientMedication
SEVERITIES = ("mild", "moderate", "severe", "life_threatening", "unknown")
_ICD10 = re.compile(r"^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$")
F = TypeVar("F", PatientAllergy, PatientCondition, PatientMedication)
_MODELS: dict[str, type[Fact]] = {
    "allergy": PatientAllergy,
    "condition": PatientCondition,
    "medication": PatientMedication,
}


@dataclass(frozen=True)
class Background:
    """A patient's facts that are not retracted, oldest first."""

    allergies: tuple[PatientAllergy, ...]
    conditions: tuple[PatientCondition, ...]
    medications: tuple[PatientMedication, ...]


def add_allergy(
    session: Session,
    actor: Actor,
    patient_id: int,
    *,
    substance: str,
    reaction: str | None = None,
    severity: str = "unknown",
) -> PatientAllergy:
    """Record an allergy of a patient of the actor's clinic."""
    require(actor, "patient.write")
    if severity not in SEVERITIES:
        raise ValidationFailed(f"Severity must be one of {', '.join(SEVERITIES)}", field="severity")
    fact = PatientAllergy(
        substance=required_text(substance, field="substance", max_len=120),
        reaction=clean_text(reaction, field="reaction", max_len=200),
        severity=severity,
    )
    return _add(session, actor, patient_id, fact, "allergy")


def add_condition(
    session: Session,
    actor: Actor,
    patient_id: int,
    *,
    name: str,
    icd10_code: str | None = None,
    since: dt.date | None = None,
) -> PatientCondition:
    """Record a chronic condition of a patient of the actor's clinic."""
    require(actor, "patient.write")
    code = clean_text(icd10_code, field="icd10_code", max_len=10)
    if code is not None and not _ICD10.match(code.upper()):
        raise ValidationFailed("ICD-10 code looks like E11 or E11.9", field="icd10_code")
    fact = PatientCondition(
        name=required_text(name, field="name", max_len=200),
        icd10_code=code.upper() if code else None,
        since=since,
    )
    if since is not None and since > tenant_today(session, actor, tenant_of(session, actor)):
        raise ValidationFailed("'Since' is in the future", field="since")
    return _add(session, actor, patient_id, fact, "condition")


def add_medication(
    session: Session,
    actor: Actor,
    patient_id: int,
    *,
    name: str,
    dosage: str | None = None,
) -> PatientMedication:
    """Record a medication a patient of the actor's clinic currently takes."""
    require(actor, "patient.write")
    fact = PatientMedication(
        name=required_text(name, field="name", max_len=200),
        dosage=clean_text(dosage, field="dosage", max_len=120),
    )
    return _add(session, actor, patient_id, fact, "medication")


def retract_fact(
    session: Session,
    actor: Actor,
    *,
    kind: FactKind,
    fact_id: int,
    reason: str,
) -> None:
    """Mark a fact as retracted (compare-and-set on ``retracted_at IS NULL``); the row stays."""
    require(actor, "patient.write")
    tenant_id = tenant_of(session, actor)
    model = _model(kind)
    why = required_text(reason, field="reason", max_len=200)
    changed = session.execute(
        update(model)
        .where(model.id == fact_id, model.tenant_id == tenant_id, model.retracted_at.is_(None))
        .values(retracted_at=actor.clock(), retracted_by=actor.user_id, retraction_reason=why)
        .execution_options(synchronize_session="fetch")
    )
    if cast(CursorResult[object], changed).rowcount != 1:
        _explain_no_change(session, model, tenant_id, fact_id)
    audit.record(session, actor, f"patient.{kind}.retract", entity=kind, entity_id=fact_id)


def patient_background(session: Session, actor: Actor, patient_id: int) -> Background:
    """Return the active allergies, conditions and medications of a patient; audited."""
    require(actor, "patient.read")
    tenant_id = tenant_of(session, actor)
    patient = load_patient(session, tenant_id, patient_id)
    audit.record(session, actor, "patient.background.read", entity="patient", entity_id=patient.id)
    return Background(
        allergies=_active(session, PatientAllergy, tenant_id, patient.id),
        conditions=_active(session, PatientCondition, tenant_id, patient.id),
        medications=_active(session, PatientMedication, tenant_id, patient.id),
    )


def _add(session: Session, actor: Actor, patient_id: int, fact: F, kind: str) -> F:
    tenant_id = tenant_of(session, actor)
    patient = load_patient(session, tenant_id, patient_id)
    fact.tenant_id, fact.patient_id, fact.recorded_by = tenant_id, patient.id, actor.user_id
    session.add(fact)
    session.flush()
    audit.record(
        session,
        actor,
        f"patient.{kind}.add",
        entity="patient",
        entity_id=patient.id,
        detail={f"{kind}_id": fact.id},
    )
    return fact


def _active(session: Session, model: type[F], tenant_id: int, patient_id: int) -> tuple[F, ...]:
    query = (
        select(model)
        .where(
            model.tenant_id == tenant_id,
            model.patient_id == patient_id,
            model.retracted_at.is_(None),
        )
        .order_by(model.id)
    )
    return tuple(session.scalars(query))


def _model(kind: str) -> type[Fact]:
    model = _MODELS.get(kind)
    if model is None:
        raise ValidationFailed(f"Unknown kind {kind!r}", field="kind")
    return model


def _explain_no_change(session: Session, model: type[Fact], tenant_id: int, fact_id: int) -> None:
    exists = session.scalar(
        select(model.id).where(model.id == fact_id, model.tenant_id == tenant_id)
    )
    if exists is None:
        raise NotFound("Record not found")
    raise Conflict("That record was already retracted")
