"""Checks across fields and rows: guardians, minors' consent (DPDP) and WhatsApp identity."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import Conflict, ValidationFailed
from core.patients.validation import ADULT_AGE, age_of
from core.patients.views import by_bsuid, current_age
from db.models import Patient


def check_relations(
    session: Session,
    tenant_id: int,
    values: dict[str, Any],
    today: dt.date,
    *,
    patient_id: int | None,
) -> None:
    """Check the guardian link and that a WhatsApp id is not another patient's."""
    guardian_id = values.get("guardian_patient_id")
    if guardian_id is not None:
        _check_guardian(session, tenant_id, guardian_id, today, patient_id=patient_id)
    if "wa_bsuid" in values:
        _check_bsuid_free(session, tenant_id, values["wa_bsuid"], patient_id=patient_id)


def _check_guardian(
    session: Session, tenant_id: int, guardian_id: int, today: dt.date, *, patient_id: int | None
) -> None:
    if guardian_id == patient_id:
        raise ValidationFailed(
            "A patient cannot be their own guardian", field="guardian_patient_id"
        )
    guardian = session.scalar(
        select(Patient).where(
            Patient.id == guardian_id, Patient.tenant_id == tenant_id, Patient.erased_at.is_(None)
        )
    )
    if guardian is None:
        raise ValidationFailed("Guardian not found", field="guardian_patient_id")
    age = current_age(guardian, today)
    if age is not None and age < ADULT_AGE:
        raise ValidationFailed("A guardian must be an adult", field="guardian_patient_id")


def check_minor(
    values: dict[str, Any],
    today: dt.date,
    *,
    guardian_consent: bool,
    stated_on: dt.date | None = None,
) -> None:
    """Require a guardian link or a guardian's consent (with relation) for a patient under 18."""
    age = age_of(values.get("date_of_birth"), values.get("age_years"), stated_on or today, today)
    if age is None or age >= ADULT_AGE:
        return
    if values.get("guardian_patient_id") is not None:
        return
    if not guardian_consent:
        raise ValidationFailed(
            "A patient under 18 needs a guardian or a guardian's consent",
            field="guardian_patient_id",
        )
    if not values.get("guardian_relation"):
        raise ValidationFailed(
            "Say who the guardian is (e.g. mother) when they consent", field="guardian_relation"
        )


def _check_bsuid_free(
    session: Session, tenant_id: int, bsuid: str | None, *, patient_id: int | None
) -> None:
    holder = by_bsuid(session, tenant_id, bsuid)
    if holder is not None and holder.id != patient_id:
        raise Conflict("This WhatsApp account is already linked to another patient")
