"""Delivery statuses of outbound messages: each ``(wamid, status)`` stored raw once, then applied.

Applying is ``core.messaging.outbound.record_status`` (statuses only move forward, the outbox
id in ``biz_opaque_callback_data`` finds a message whose wamid was never stored).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.context import Actor
from core.messaging.inbound_payload import Status, meta_time
from core.messaging.inbound_rows import insert_new
from core.messaging.outbound import record_status
from db.models.messaging import WhatsAppMessage, WhatsAppStatusEvent


def apply_status(
    session: Session, actor: Actor, status: Status, *, inbox: int | None, now: dt.datetime
) -> bool:
    """Record one status of the actor's clinic and advance its outbound message; False if seen.

    The ``(wamid, status)`` row is inserted first: a redelivered status finds it and stops.
    ``errors[]`` and ``pricing`` are kept raw on that row; the message gets the first error's
    code and title and the pricing category. Locks the message row until commit, so two
    statuses of one message applied at once cannot move it backwards.
    """
    tenant_id = actor.require_tenant()
    at = meta_time(status.timestamp, now)
    new = insert_new(
        session,
        WhatsAppStatusEvent,
        ["tenant_id", "wa_message_id", "status"],
        tenant_id=tenant_id,
        wa_message_id=status.id,
        status=status.status,
        status_at=at,
        recipient_id=status.recipient_id or status.recipient_user_id,
        errors=status.errors,
        pricing=status.pricing,
        inbox_id=inbox,
        created_at=now,
    )
    if not new:
        return False
    session.execute(
        select(WhatsAppMessage.id)
        .where(WhatsAppMessage.tenant_id == tenant_id, WhatsAppMessage.wa_message_id == status.id)
        .with_for_update()
    )
    first = (status.errors or [{}])[0]
    code, category = first.get("code"), (status.pricing or {}).get("category")
    record_status(
        session,
        tenant_id=tenant_id,
        wamid=status.id,
        status=status.status,
        at=at,
        callback_data=status.biz_opaque_callback_data,
        pricing_category=category[:30] if isinstance(category, str) else None,
        error_code=code if isinstance(code, int) else None,
        error_title=str(first.get("title") or "") or None,
    )
    return True
