"""Consent under India's DPDP Act: append-only records, the latest row per purpose wins."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from core import audit
from core.auth.permissions import require
from core.context import Actor, tenant_of
from core.errors import ValidationFailed
from core.patients.views import load_patient
from db.models import Consent

PURPOSES = ("treatment", "whatsapp", "reminders", "research")
METHODS = ("desk", "paper", "whatsapp", "otp", "verbal")
GUARDIAN_PREFIX = "guardian:"  # method of a consent a guardian gave for the patient


@dataclass(frozen=True)
class ConsentGrant:
    """A consent decision to record: purpose, granted or refused, how, and whether by a guardian."""

    purpose: str
    granted: bool = True
    method: str = "desk"
    by_guardian: bool = False

    def checked(self) -> ConsentGrant:
        """Return the grant after checking purpose and method."""
        if self.purpose not in PURPOSES:
            raise ValidationFailed(
                f"Consent purpose must be one of {', '.join(PURPOSES)}", field="consents"
            )
        if self.method not in METHODS:
            raise ValidationFailed(
                f"Consent method must be one of {', '.join(METHODS)}", field="consents"
            )
        return self

    @property
    def stored_method(self) -> str:
        return GUARDIAN_PREFIX + self.method if self.by_guardian else self.method


def check_grants(grants: Iterable[ConsentGrant]) -> tuple[ConsentGrant, ...]:
    """Validate every grant; at most one per purpose."""
    checked = tuple(grant.checked() for grant in grants)
    purposes = [grant.purpose for grant in checked]
    if len(set(purposes)) != len(purposes):
        raise ValidationFailed("Each consent purpose may be given once", field="consents")
    return checked


def append_consents(
    session: Session,
    actor: Actor,
    *,
    tenant_id: int,
    patient_id: int,
    grants: Iterable[ConsentGrant],
    guardian_id: int | None,
) -> None:
    """Insert consent rows for a patient (caller checked permission and the grants)."""
    for grant in grants:
        session.add(
            Consent(
                tenant_id=tenant_id,
                patient_id=patient_id,
                purpose=grant.purpose,
                granted=grant.granted,
                method=grant.stored_method,
                recorded_by=actor.user_id,
                given_by_guardian_id=guardian_id if grant.by_guardian else None,
            )
        )


def record_consent(
    session: Session,
    actor: Actor,
    patient_id: int,
    *,
    grant: ConsentGrant,
) -> None:
    """Record a new consent decision for a patient of the actor's clinic."""
    require(actor, "patient.write")
    tenant_id = tenant_of(session, actor)
    patient = load_patient(session, tenant_id, patient_id)
    grant.checked()
    append_consents(
        session,
        actor,
        tenant_id=tenant_id,
        patient_id=patient.id,
        grants=[grant],
        guardian_id=patient.guardian_patient_id,
    )
    session.flush()
    audit.record(
        session,
        actor,
        "patient.consent",
        entity="patient",
        entity_id=patient.id,
        detail={
            "purpose": grant.purpose,
            "granted": grant.granted,
            "by_guardian": grant.by_guardian,
        },
    )


def current_consents(session: Session, actor: Actor, patient_id: int) -> dict[str, bool]:
    """Return the latest decision per purpose for a patient of the actor's clinic."""
    require(actor, "patient.read")
    tenant_id = tenant_of(session, actor)
    load_patient(session, tenant_id, patient_id)
    rows = session.execute(
        select(Consent.purpose, Consent.granted)
        .where(Consent.tenant_id == tenant_id, Consent.patient_id == patient_id)
        .order_by(Consent.id)
    )
    return {purpose: granted for purpose, granted in rows}


def has_guardian_consent(session: Session, tenant_id: int, patient_id: int) -> bool:
    """Tell whether a guardian has granted any consent for the patient."""
    found = session.scalar(
        select(Consent.id)
        .where(
            Consent.tenant_id == tenant_id,
            Consent.patient_id == patient_id,
            Consent.granted.is_(True),
            or_(
                Consent.given_by_guardian_id.is_not(None),
                Consent.method.startswith(GUARDIAN_PREFIX),
            ),
        )
        .limit(1)
    )
    return found is not None
