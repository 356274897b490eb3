"""Delivery statuses of outbound messages: stored once each, applied forwards only."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import update
from sqlalchemy.orm import Session

from core.context import Actor
from core.messaging.inbound_payload import Status, meta_time
from core.messaging.inbound_rows import insert_new
from db.models.messaging import WhatsAppMessage, WhatsAppStatusEvent

log = logging.getLogger("qlink.whatsapp.inbound")

# Meta sends statuses unordered: a later one never moves a message back (read -> delivered).
PROGRESS = ("queued", "accepted", "sent", "delivered", "read", "played")
FAILED_AFTER = ("queued", "accepted", "sent", "delivered")  # a failure after "read" is noise


def apply_status(
    session: Session, actor: Actor, status: Status, *, inbox: int | None, now: dt.datetime
) -> bool:
    """Record one status of the actor's clinic and advance its outbound message; False if seen.

    The ``(wamid, status)`` row is inserted first: a redelivered status finds it and stops.
    ``errors[]`` and ``pricing`` are stored raw on that row; the message keeps the first
    error's code and title and the pricing category.
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
    if new:
        _advance(session, tenant_id, status, at)
    return new


def _advance(session: Session, tenant_id: int, status: Status, at: dt.datetime) -> None:
    if status.status == "failed":
        earlier: tuple[str, ...] = FAILED_AFTER
    elif status.status in PROGRESS:
        earlier = PROGRESS[: PROGRESS.index(status.status)]
    else:
        log.info("whatsapp status %r not applied to a message", status.status)
        return
    values: dict[str, object] = {"status": status.status, "status_at": at}
    if status.errors:
        first = status.errors[0]
        code = first.get("code")
        values["error_code"] = code if isinstance(code, int) else None
        values["error_title"] = str(first.get("title") or "")[:200] or None
    mine = (
        WhatsAppMessage.tenant_id == tenant_id,
        WhatsAppMessage.wa_message_id == status.id,
        WhatsAppMessage.direction == "out",
    )
    # Compare-and-set: only a message still at an earlier status moves.
    session.execute(
        update(WhatsAppMessage).where(*mine, WhatsAppMessage.status.in_(earlier)).values(values)
    )
    category = (status.pricing or {}).get("category")
    if isinstance(category, str):
        session.execute(update(WhatsAppMessage).where(*mine).values(pricing_category=category[:30]))
