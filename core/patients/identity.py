"""Match a WhatsApp user to patients by phone number or business-scoped user id (BSUID)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from core import audit
from core.auth.permissions import require
from core.context import Actor, tenant_of
from core.errors import ValidationFailed
from core.patients.phones import PhoneVault, normalise_phone
from core.patients.registry import apply_changes
from core.patients.validation import clean_text
from core.patients.views import by_bsuid, by_phone_hash
from db.models import Patient


def find_by_whatsapp(
    session: Session,
    actor: Actor,
    *,
    vault: PhoneVault,
    phone: str | None = None,
    bsuid: str | None = None,
) -> list[Patient]:
    """Return the patients a WhatsApp user is: the holder of ``bsuid`` first, then phone matches.

    ``phone`` is international as WhatsApp sends it (``919876543210``; a leading ``+`` is
    optional). The first time a user is seen with both identities, the bsuid is stored on the
    oldest patient with that phone and no bsuid yet, so later messages with only the bsuid match.
    """
    require(actor, "patient.search")
    tenant_id = tenant_of(session, actor)
    bsuid = clean_text(bsuid, field="wa_bsuid", max_len=128)
    if not bsuid and not phone:
        raise ValidationFailed("Give a WhatsApp number or user id", field="phone")
    holder = by_bsuid(session, tenant_id, bsuid)
    same_phone = (
        by_phone_hash(session, tenant_id, vault.lookup_hash(_international(phone))) if phone else []
    )
    if bsuid and holder is None:
        holder = _link_bsuid(session, actor, same_phone, bsuid)
    matches = ([holder] if holder else []) + [p for p in same_phone if p is not holder]
    audit.record(
        session,
        actor,
        "patient.lookup",
        entity="patient",
        detail={"by": _identities(phone, bsuid), "matches": len(matches)},
    )
    return matches


def _link_bsuid(
    session: Session, actor: Actor, candidates: list[Patient], bsuid: str
) -> Patient | None:
    patient = next((p for p in candidates if p.wa_bsuid is None), None)
    if patient is None:
        return None
    apply_changes(patient, {"wa_bsuid": bsuid}, now=actor.clock())
    session.flush()
    audit.record(
        session,
        actor,
        "patient.update",
        entity="patient",
        entity_id=patient.id,
        detail={"fields": ["wa_bsuid"]},
    )
    return patient


def _international(wa_id: str) -> str:
    # wa_id always carries the country code; without the "+" a foreign number would be read
    # as an Indian national one.
    return normalise_phone("+" + wa_id.strip().lstrip("+"))


def _identities(phone: str | None, bsuid: str | None) -> list[str]:
    return [name for name, value in (("phone", phone), ("bsuid", bsuid)) if value]
