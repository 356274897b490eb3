"""The clinic's personal-data breach log (DPDP: every breach recorded, the Board and the people
affected told). Entries are never edited; a later notification is its own command."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit
from core.auth.permissions import require
from core.context import Actor, load_owned, tenant_of
from core.errors import Conflict, ValidationFailed
from db.models import BreachLogEntry


@dataclass(frozen=True)
class BreachRow:
    id: int
    detected_at: dt.datetime
    description: str
    affected_count: int
    notified_at: dt.datetime | None
    recorded_at: dt.datetime


def access_breach(session: Session, actor: Actor, breach_id: int) -> BreachLogEntry:
    """Fetch a breach log entry of the actor's clinic, or raise ``NotFound``."""
    return load_owned(session, actor, BreachLogEntry, breach_id, "Breach")


def record_breach(
    session: Session,
    actor: Actor,
    *,
    detected_at: dt.datetime,
    description: str,
    affected_count: int,
) -> BreachRow:
    """Add a breach to the log: when it was found, what happened, how many people."""
    require(actor, "settings.write")
    tenant_id = tenant_of(session, actor)
    text = (description or "").strip()
    if len(text) < 10:
        raise ValidationFailed("Describe the breach (at least 10 characters)", field="description")
    if detected_at.tzinfo is None or detected_at > actor.clock():
        raise ValidationFailed("Detection time must be a past, zoned time", field="detected_at")
    if isinstance(affected_count, bool) or affected_count < 0:
        raise ValidationFailed("Affected count cannot be negative", field="affected_count")
    row = BreachLogEntry(
        tenant_id=tenant_id,
        detected_at=detected_at,
        description=text,
        affected_count=affected_count,
        reported_by=actor.user_id,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor,
        "breach.record",
        entity="breach",
        entity_id=row.id,
        detail={"affected": affected_count},
    )
    return _row(row)


def mark_notified(session: Session, actor: Actor, *, breach_id: int) -> BreachRow:
    """Record that the Data Protection Board and the people affected were told (once)."""
    require(actor, "settings.write")
    row = access_breach(session, actor, breach_id)
    if row.notified_at is not None:
        raise Conflict("This breach was already marked as notified")
    row.notified_at = actor.clock()
    session.flush()
    audit.record(session, actor, "breach.notified", entity="breach", entity_id=row.id)
    return _row(row)


def list_breaches(session: Session, actor: Actor) -> list[BreachRow]:
    """Return the clinic's breach log, newest first."""
    require(actor, "settings.write")
    tenant_id = tenant_of(session, actor)
    rows = session.scalars(
        select(BreachLogEntry)
        .where(BreachLogEntry.tenant_id == tenant_id)
        .order_by(BreachLogEntry.detected_at.desc(), BreachLogEntry.id.desc())
    )
    return [_row(r) for r in rows]


def _row(r: BreachLogEntry) -> BreachRow:
    return BreachRow(
        r.id, r.detected_at, r.description, r.affected_count, r.notified_at, r.created_at
    )
