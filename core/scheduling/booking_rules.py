"""A clinic's booking rules: whether reception may overbook, and how long a slot offer lasts.

Stored in ``tenants.settings`` next to the queue knobs; read once per command.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from core import audit
from core.auth.permissions import require
from core.context import Actor, tenant_of
from core.errors import NotFound, ValidationFailed
from db.models import Tenant

OVERBOOK_KEY = "overbook_allowed"
OFFER_MINUTES_KEY = "waitlist_offer_minutes"
DEFAULT_OFFER_MINUTES = 30
MAX_OFFER_MINUTES = 24 * 60


@dataclass(frozen=True)
class BookingRules:
    """Overbooking is allowed unless the clinic turned it off; offers last ``offer_minutes``."""

    overbook_allowed: bool = True
    offer_minutes: int = DEFAULT_OFFER_MINUTES


def booking_rules(session: Session, tenant_id: int) -> BookingRules:
    """Return the clinic's booking rules (defaults for keys it never set)."""
    tenant = session.get(Tenant, tenant_id)
    settings = (tenant.settings or {}) if tenant is not None else {}
    minutes = settings.get(OFFER_MINUTES_KEY)
    if not isinstance(minutes, int) or not 1 <= minutes <= MAX_OFFER_MINUTES:
        minutes = DEFAULT_OFFER_MINUTES
    return BookingRules(settings.get(OVERBOOK_KEY) is not False, minutes)


def set_booking_rules(session: Session, actor: Actor, rules: BookingRules) -> BookingRules:
    """Set the clinic's booking rules (clinic admin); the other settings stay. Audited."""
    require(actor, "settings.write")
    if isinstance(rules.offer_minutes, bool) or not 1 <= rules.offer_minutes <= MAX_OFFER_MINUTES:
        raise ValidationFailed(
            f"An offer lasts 1 to {MAX_OFFER_MINUTES} minutes", field="offer_minutes"
        )
    tenant = session.get(Tenant, tenant_of(session, actor))
    if tenant is None:
        raise NotFound("Clinic not found")
    tenant.settings = {
        **(tenant.settings or {}),
        OVERBOOK_KEY: bool(rules.overbook_allowed),
        OFFER_MINUTES_KEY: rules.offer_minutes,
    }
    detail = {"overbook_allowed": rules.overbook_allowed, "offer_minutes": rules.offer_minutes}
    audit.record(session, actor, "booking_rules.set", entity="tenant", entity_id=tenant.id,
                 detail=detail)  # fmt: skip
    return rules
