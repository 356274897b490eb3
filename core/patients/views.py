"""Read models of patients that are safe to show in lists (phones masked)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.context import Actor
from core.errors import NotFound
from core.patients.phones import PhoneVault
from core.patients.validation import age_of
from core.tenancy import tenant_timezone
from db.models import Patient


@dataclass(frozen=True)
class PatientSummary:
    """One line of a patient list; carries the masked phone, never the number."""

    id: int
    code: str
    full_name: str
    age: int | None
    gender: str | None
    masked_phone: str | None


def summarise(patient: Patient, *, vault: PhoneVault, today: dt.date) -> PatientSummary:
    """Build the list line of a patient."""
    return PatientSummary(
        id=patient.id,
        code=patient.code,
        full_name=patient.full_name,
        age=current_age(patient, today),
        gender=patient.gender,
        masked_phone=vault.masked(patient.phone_cipher),
    )


def current_age(patient: Patient, today: dt.date) -> int | None:
    """Return the patient's age today (an age given without a birth date grows with time)."""
    stated_on = patient.created_at.date() if patient.created_at else today
    return age_of(patient.date_of_birth, patient.age_years, stated_on, today)


def tenant_today(session: Session, actor: Actor, tenant_id: int) -> dt.date:
    """Return today's date on the clinic's wall clock."""
    return actor.clock().astimezone(tenant_timezone(session, tenant_id)).date()


def load_patient(session: Session, tenant_id: int, patient_id: int) -> Patient:
    """Fetch a live patient of the tenant without permission check or audit (internal)."""
    patient = session.scalar(
        select(Patient).where(
            Patient.id == patient_id,
            Patient.tenant_id == tenant_id,
            Patient.erased_at.is_(None),
        )
    )
    if patient is None:
        raise NotFound("Patient not found")
    return patient


def by_bsuid(session: Session, tenant_id: int, bsuid: str | None) -> Patient | None:
    """Return the live patient holding a WhatsApp business-scoped user id, if any."""
    if not bsuid:
        return None
    return session.scalar(
        select(Patient).where(
            Patient.tenant_id == tenant_id, Patient.wa_bsuid == bsuid, Patient.erased_at.is_(None)
        )
    )


def by_phone_hash(session: Session, tenant_id: int, lookup_hash: str) -> list[Patient]:
    """Return live patients sharing a phone (families often do), oldest first."""
    query = (
        select(Patient)
        .where(
            Patient.tenant_id == tenant_id,
            Patient.phone_hash == lookup_hash,
            Patient.erased_at.is_(None),
        )
        .order_by(Patient.id)
        .limit(50)
    )
    return list(session.scalars(query))


def masked_name(full_name: str) -> str:
    """Return the first name and the last name's initial: "Ravi Kumar Sharma" -> "Ravi S."."""
    parts = full_name.split()
    if not parts:
        return ""
    if len(parts) == 1:
        return parts[0]
    return f"{parts[0]} {parts[-1][0].upper()}."
