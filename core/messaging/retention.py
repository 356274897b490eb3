"""Purge message bodies after the clinic's retention period; counts and statuses stay.

SPEC: "message bodies purged after a configurable period (default 30 days) while aggregate
metrics stay". A ``whatsapp_messages`` row keeps its direction, type, status, pricing category
and times; only ``body`` becomes NULL (``purged_at`` says when). The global ``webhook_inbox``
holds raw deliveries of every clinic, so its processed rows are purged after the shortest
retention any clinic asked for. Runs daily from the ticker, in batches of short transactions.
Each batch that purged a clinic's messages leaves a ``retention.purge`` entry in that clinic's
audit log (how many, the cutoff), which the DPDP page reads as the purge's last run.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import null, select, update
from sqlalchemy.orm import Session

from core import audit
from core.clock import FrozenClock
from core.context import Actor
from db.models import Tenant, WhatsAppMessage
from db.models.messaging import WebhookInbox

SETTING = "message_retention_days"  # in tenants.settings
DEFAULT_DAYS = 30
BATCH = 500


def retention_days(settings: dict[str, Any] | None) -> int:
    """The clinic's retention in days (the setting when it is a positive integer, else 30)."""
    days = (settings or {}).get(SETTING)
    return (
        days if isinstance(days, int) and not isinstance(days, bool) and days > 0 else DEFAULT_DAYS
    )


def purge_batch(session: Session, *, now: dt.datetime, limit: int = BATCH) -> int:
    """Purge up to ``limit`` expired bodies per clinic and of the inbox; return how many.

    Platform scope (all tenants). Call again (a new transaction) until it returns 0.
    """
    purged = 0
    shortest = DEFAULT_DAYS
    for tenant_id, settings in session.execute(select(Tenant.id, Tenant.settings)).all():
        days = retention_days(settings)
        shortest = min(shortest, days)
        cutoff = now - dt.timedelta(days=days)
        count = _purge_messages(session, tenant_id, cutoff, now, limit)
        if count:
            _record_purge(session, tenant_id, now, cutoff, days, count)
        purged += count
    return purged + _purge_inbox(session, now - dt.timedelta(days=shortest), limit)


PURGE_ACTION = "retention.purge"


def _record_purge(
    session: Session, tenant_id: int, now: dt.datetime, cutoff: dt.datetime, days: int, count: int
) -> None:
    """Leave the clinic a record of what this batch removed (counts only, no content)."""
    audit.record(
        session,
        Actor.system(tenant_id, clock=FrozenClock(now)),
        PURGE_ACTION,
        entity="tenant",
        entity_id=tenant_id,
        detail={"messages": count, "cutoff": cutoff.isoformat(), "days": days},
    )


def _purge_messages(
    session: Session, tenant_id: int, cutoff: dt.datetime, now: dt.datetime, limit: int
) -> int:
    ids = list(
        session.execute(
            select(WhatsAppMessage.id)
            .where(
                WhatsAppMessage.tenant_id == tenant_id,
                WhatsAppMessage.created_at < cutoff,
                WhatsAppMessage.purged_at.is_(None),
            )
            .limit(limit)
        ).scalars()
    )
    if ids:
        session.execute(
            update(WhatsAppMessage)
            .where(WhatsAppMessage.tenant_id == tenant_id, WhatsAppMessage.id.in_(ids))
            .values(body=null(), purged_at=now)
            .execution_options(synchronize_session=False)
        )
    return len(ids)


def _purge_inbox(session: Session, cutoff: dt.datetime, limit: int) -> int:
    ids = list(
        session.execute(
            select(WebhookInbox.id)
            .where(
                WebhookInbox.status != "pending",
                WebhookInbox.received_at < cutoff,
                WebhookInbox.body.is_not(None),
            )
            .limit(limit)
        ).scalars()
    )
    if ids:
        session.execute(
            update(WebhookInbox)
            .where(WebhookInbox.id.in_(ids))
            .values(body=null())
            .execution_options(synchronize_session=False)
        )
    return len(ids)
