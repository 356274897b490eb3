"""The patient profile the front desk opens: who, guardian and consents, background, history.

Reception sees demographics (phone masked), the guardian, current consents, allergies and
conditions (read-only here), and the visit history: appointments, tokens, consultations by date
and doctor, and bills. Clinical notes, diagnoses and prescriptions are never part of this read,
whoever asks; they stay on the doctor's page behind ``clinical.read``. Opening a profile is
audited (``patient.read``) through ``access_patient``.

Queries: a fixed handful (patient, guardian, consents, three fact tables, appointments, tokens,
consultations, bills), each bounded by ``HISTORY``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from core.billing.money import format_inr
from core.context import Actor, tenant_of
from core.patients.background import patient_background
from core.patients.consent import current_consents
from core.patients.phones import PhoneVault
from core.patients.registry import access_patient
from core.patients.views import current_age, load_patient, tenant_today
from core.tenancy import tenant_timezone
from db.models import Appointment, Bill, Consultation, Department, Doctor, Patient, QueueToken

HISTORY = 20  # most recent rows of each history list


@dataclass(frozen=True)
class Line:
    """One history line: when (clinic time), what, with whom, and its status."""

    when: str
    what: str
    who: str
    status: str
    note: str = ""


@dataclass(frozen=True)
class Profile:
    """Everything reception may see about one patient (never clinical notes)."""

    patient_id: int
    code: str
    full_name: str
    age: int | None
    date_of_birth: dt.date | None
    gender: str | None
    masked_phone: str | None
    email: str | None
    address: str | None
    blood_group: str | None
    preferred_language: str
    guardian: str | None
    guardian_relation: str | None
    consents: dict[str, bool]
    allergies: tuple[str, ...]
    conditions: tuple[str, ...]
    appointments: tuple[Line, ...]
    tokens: tuple[Line, ...]
    visits: tuple[Line, ...]
    bills: tuple[Line, ...]


def patient_profile(
    session: Session, actor: Actor, *, patient_id: int, vault: PhoneVault
) -> Profile:
    """Return a patient's profile for the desk; ``NotFound`` for another clinic's patient."""
    patient = access_patient(session, actor, patient_id)
    tenant_id = tenant_of(session, actor)
    zone = tenant_timezone(session, tenant_id)
    facts = patient_background(session, actor, patient_id)
    guardian = (
        load_patient(session, tenant_id, patient.guardian_patient_id)
        if patient.guardian_patient_id
        else None
    )
    return Profile(
        patient_id=patient.id,
        code=patient.code,
        full_name=patient.full_name,
        age=current_age(patient, tenant_today(session, actor, tenant_id)),
        date_of_birth=patient.date_of_birth,
        gender=patient.gender,
        masked_phone=vault.masked(patient.phone_cipher),
        email=patient.email,
        address=patient.address,
        blood_group=patient.blood_group,
        preferred_language=patient.preferred_language,
        guardian=f"{guardian.full_name} · {guardian.code}" if guardian else None,
        guardian_relation=patient.guardian_relation,
        consents=current_consents(session, actor, patient_id),
        allergies=tuple(_allergy(a.substance, a.reaction) for a in facts.allergies),
        conditions=tuple(c.name for c in facts.conditions),
        appointments=_appointments(session, patient, zone),
        tokens=_tokens(session, patient),
        visits=_visits(session, patient, zone),
        bills=_bills(session, patient, zone),
    )


def _allergy(substance: str, reaction: str | None) -> str:
    return f"{substance} ({reaction})" if reaction else substance


def _appointments(session: Session, patient: Patient, zone: dt.tzinfo) -> tuple[Line, ...]:
    rows = session.execute(
        select(Appointment, Doctor.full_name)
        .join(
            Doctor, and_(Doctor.tenant_id == patient.tenant_id, Doctor.id == Appointment.doctor_id)
        )
        .where(Appointment.tenant_id == patient.tenant_id, Appointment.patient_id == patient.id)
        .order_by(Appointment.slot_start.desc(), Appointment.id.desc())
        .limit(HISTORY)
    )
    return tuple(
        Line(
            when=f"{appt.slot_start.astimezone(zone):%d %b %Y %H:%M}",
            what=appt.visit_type.replace("_", "-") + (" · overbooked" if appt.overbooked else ""),
            who=doctor,
            status=appt.status,
            note=appt.cancel_reason or "",
        )
        for appt, doctor in rows
    )


def _tokens(session: Session, patient: Patient) -> tuple[Line, ...]:
    tenant_id = patient.tenant_id
    rows = session.execute(
        select(QueueToken, Doctor.full_name, Department.name)
        .join(
            Department,
            and_(Department.tenant_id == tenant_id, Department.id == QueueToken.department_id),
        )
        .outerjoin(Doctor, and_(Doctor.tenant_id == tenant_id, Doctor.id == QueueToken.doctor_id))
        .where(QueueToken.tenant_id == tenant_id, QueueToken.patient_id == patient.id)
        .order_by(QueueToken.service_date.desc(), QueueToken.id.desc())
        .limit(HISTORY)
    )
    return tuple(
        Line(
            when=f"{token.service_date:%d %b %Y}",
            what=f"{token.code} · {token.kind.replace('_', '-')}",
            who=doctor or department,
            status=token.status,
        )
        for token, doctor, department in rows
    )


def _visits(session: Session, patient: Patient, zone: dt.tzinfo) -> tuple[Line, ...]:
    rows = session.execute(
        select(Consultation.started_at, Consultation.status, Doctor.full_name)
        .join(
            Doctor, and_(Doctor.tenant_id == patient.tenant_id, Doctor.id == Consultation.doctor_id)
        )
        .where(Consultation.tenant_id == patient.tenant_id, Consultation.patient_id == patient.id)
        .order_by(Consultation.started_at.desc())
        .limit(HISTORY)
    )
    return tuple(
        Line(
            when=f"{started.astimezone(zone):%d %b %Y %H:%M}",
            what="consultation",
            who=doctor,
            status=status,
        )
        for started, status, doctor in rows
    )


def _bills(session: Session, patient: Patient, zone: dt.tzinfo) -> tuple[Line, ...]:
    rows = session.scalars(
        select(Bill)
        .where(Bill.tenant_id == patient.tenant_id, Bill.patient_id == patient.id)
        .order_by(Bill.id.desc())
        .limit(HISTORY)
    )
    return tuple(
        Line(
            when=f"{(bill.issued_at or bill.created_at).astimezone(zone):%d %b %Y}",
            what=bill.number,
            who=format_inr(bill.total_minor),
            status=bill.status,
            note=_outstanding(bill),
        )
        for bill in rows
    )


def _outstanding(bill: Bill) -> str:
    due = bill.total_minor - bill.paid_minor
    return f"{format_inr(due)} due" if due > 0 else ""
