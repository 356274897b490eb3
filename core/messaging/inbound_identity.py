"""A WhatsApp user's new phone or business-scoped id (system messages) moves to their patients."""

from __future__ import annotations

from sqlalchemy.orm import Session

from core import audit
from core.context import Actor, tenant_of
from core.patients.phones import PhoneVault, normalise_phone
from core.patients.registry import apply_changes
from core.patients.views import by_bsuid, by_phone_hash
from db.models import Patient


def change_identity(
    session: Session,
    actor: Actor,
    *,
    vault: PhoneVault,
    old_phone: str | None,
    old_bsuid: str | None,
    new_phone: str | None,
    new_bsuid: str | None,
) -> list[Patient]:
    """Give the user's patients their new number and/or BSUID; return the patients changed.

    ``user_changed_number``: every patient on the old number (families share one) gets the new
    one; Meta issues a new BSUID with a new number, so the old one is replaced (or cleared
    when Meta does not say the new one). ``user_changed_user_id``: the holder of the old BSUID
    gets the new one, unless another patient of the clinic already holds it.
    """
    tenant_id = tenant_of(session, actor)
    holder = by_bsuid(session, tenant_id, old_bsuid)
    same_phone = (
        by_phone_hash(session, tenant_id, vault.lookup_hash(_international(old_phone)))
        if old_phone
        else []
    )
    changed: dict[int, list[str]] = {}
    if new_phone:
        sealed = vault.seal(_international(new_phone))
        for patient in _distinct([holder, *same_phone]):
            apply_changes(patient, {"phone": sealed}, now=actor.clock())
            changed.setdefault(patient.id, []).append("phone")
    if holder is not None and (new_bsuid or new_phone) and _free(session, tenant_id, new_bsuid):
        apply_changes(holder, {"wa_bsuid": new_bsuid}, now=actor.clock())
        changed.setdefault(holder.id, []).append("wa_bsuid")
    session.flush()
    for patient_id, fields in changed.items():
        audit.record(
            session,
            actor,
            "patient.update",
            entity="patient",
            entity_id=patient_id,
            detail={"fields": fields, "source": "whatsapp.system"},
        )
    return [p for p in _distinct([holder, *same_phone]) if p.id in changed]


def _free(session: Session, tenant_id: int, bsuid: str | None) -> bool:
    return bsuid is None or by_bsuid(session, tenant_id, bsuid) is None


def _distinct(patients: list[Patient | None]) -> list[Patient]:
    seen: dict[int, Patient] = {}
    for patient in patients:
        if patient is not None:
            seen.setdefault(patient.id, patient)
    return list(seen.values())


def _international(wa_id: str) -> str:
    # wa_id carries the country code; without "+" it would be read as a national number.
    return normalise_phone("+" + wa_id.strip().lstrip("+"))
