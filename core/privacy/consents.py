"""Every consent decision of a patient per purpose, oldest first (the append-only history)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit
from core.auth.permissions import require
from core.context import Actor, tenant_of
from core.errors import NotFound
from core.patients.consent import GUARDIAN_PREFIX
from db.models import Consent, Patient


@dataclass(frozen=True)
class ConsentEvent:
    """One decision: purpose, granted or withdrawn, how, by the guardian or not, and when."""

    purpose: str
    granted: bool
    method: str
    by_guardian: bool
    recorded_at: dt.datetime


def consent_history(session: Session, actor: Actor, *, patient_id: int) -> list[ConsentEvent]:
    """Return a patient's consent decisions in the order they were recorded (audited read).

    An erased patient's history stays readable: it is the proof of what they had agreed to.
    """
    require(actor, "patient.read")
    tenant_id = tenant_of(session, actor)
    found = session.scalar(
        select(Patient.id).where(Patient.tenant_id == tenant_id, Patient.id == patient_id)
    )
    if found is None:
        raise NotFound("Patient not found")
    rows = session.scalars(
        select(Consent)
        .where(Consent.tenant_id == tenant_id, Consent.patient_id == patient_id)
        .order_by(Consent.id)
    )
    history = [
        ConsentEvent(
            c.purpose,
            c.granted,
            c.method.removeprefix(GUARDIAN_PREFIX),
            c.method.startswith(GUARDIAN_PREFIX) or c.given_by_guardian_id is not None,
            c.created_at,
        )
        for c in rows
    ]
    audit.record(session, actor, "consent.history", entity="patient", entity_id=patient_id)
    return history
