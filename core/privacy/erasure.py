"""Erasure on a patient's request, keeping what the law requires a clinic to retain.

Erased or anonymised: name (replaced by the patient code), phone, WhatsApp id, email, address,
date of birth (the age in years is kept for the clinical record), the WhatsApp conversation
state and every stored message body (the message rows keep direction, status and pricing
category for aggregate metrics, with the contact replaced). Further WhatsApp, reminder and
research consent is withdrawn.

Retained, as Indian law requires: clinical records (consultations, diagnoses, prescriptions,
lab results, documents: at least three years under the Indian Medical Council (Professional
Conduct) Regulations 2002, longer under state clinical-establishment rules) and bills and
payments (eight years under the Income-tax and GST Acts). The consent history is kept as proof.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, null, update
from sqlalchemy.orm import Session

from core import audit
from core.auth.permissions import require
from core.context import Actor, tenant_of
from core.patients.consent import ConsentGrant, append_consents
from core.patients.views import load_patient
from db.models import ConversationSession, DataRequest, WhatsAppMessage

RETAINED = (
    "Clinical records (visits, diagnoses, prescriptions, lab results, documents) — kept at "
    "least 3 years (Indian Medical Council Regulations 2002, state clinical-establishment rules)",
    "Bills, receipts and payments — kept 8 years (Income-tax Act, GST Act)",
    "The consent history — kept as proof of what the patient agreed to",
)
ERASED = (
    "Name (replaced by the patient code), phone, WhatsApp id, email, address, date of birth",
    "WhatsApp conversation state and every stored message text",
    "Consent for WhatsApp, reminders and research (withdrawn)",
)
_WITHDRAWN = ("whatsapp", "reminders", "research")


@dataclass(frozen=True)
class ErasureReceipt:
    """What an erasure did: the request row, message bodies cleared, sessions removed."""

    request_id: int
    patient_code: str
    messages_cleared: int
    sessions_removed: int


def erase_patient(
    session: Session, actor: Actor, *, patient_id: int, note: str | None = None
) -> ErasureReceipt:
    """Erase a patient's contact data and conversations on their request (clinic admin)."""
    require(actor, "patient.erase")
    tenant_id = tenant_of(session, actor)
    patient = load_patient(session, tenant_id, patient_id)
    now = actor.clock()
    if patient.date_of_birth is not None and patient.age_years is None:
        patient.age_years = _age(patient.date_of_birth, now.date())
    patient.full_name = f"Erased {patient.code}"
    patient.name_key = patient.full_name.casefold()
    patient.phone_cipher = patient.phone_hash = patient.phone_last4 = None
    patient.wa_bsuid = patient.email = patient.address = None
    patient.date_of_birth, patient.erased_at, patient.updated_at = None, now, now
    append_consents(
        session,
        actor,
        tenant_id=tenant_id,
        patient_id=patient.id,
        grants=[ConsentGrant(p, granted=False, method="desk") for p in _WITHDRAWN],
        guardian_id=None,
    )
    cleared = session.execute(
        update(WhatsAppMessage)
        .where(WhatsAppMessage.tenant_id == tenant_id, WhatsAppMessage.patient_id == patient.id)
        .values(body=null(), contact_key=f"erased:{patient.code}", purged_at=now)
        .execution_options(synchronize_session=False)
    )
    removed = session.execute(
        delete(ConversationSession)
        .where(
            ConversationSession.tenant_id == tenant_id,
            ConversationSession.patient_id == patient.id,
        )
        .execution_options(synchronize_session=False)
    )
    request = DataRequest(
        tenant_id=tenant_id,
        patient_id=patient.id,
        kind="erasure",
        status="completed",
        notes=(note or "").strip()[:500] or None,
        completed_at=now,
    )
    session.add(request)
    session.flush()
    counts = {"messages": _rowcount(cleared), "sessions": _rowcount(removed)}
    audit.record(
        session, actor, "patient.erase", entity="patient", entity_id=patient.id, detail=counts
    )
    return ErasureReceipt(request.id, patient.code, counts["messages"], counts["sessions"])


def _age(born: dt.date, today: dt.date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def _rowcount(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
