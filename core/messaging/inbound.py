"""Process a stored WhatsApp delivery: route, dedupe, record, hand each message on.

The route stores the signed body with ``record_delivery`` and answers Meta at once; a task, a
worker actor or the sweep (``pending_deliveries``) then calls ``process_delivery`` in its own
transaction. Meta delivers at least once and retries for days, so everything here is idempotent
in the database: a message is new only if its row in ``whatsapp_messages`` (unique per clinic
and ``wamid``) was inserted by this call, a status only if its ``(wamid, status)`` row was.
Two processes handling the same delivery at once: the second waits on the first's inbox row
lock (PostgreSQL), or on the unique index for a redelivered copy, and then does nothing.

Each change is routed by ``metadata.phone_number_id`` and processed under that clinic's scope
only (ORM filter and row-level security), so a delivery for clinic A cannot touch clinic B.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from core.clock import Clock, system_clock
from core.context import Actor
from core.errors import ValidationFailed
from core.messaging.conversation import handle_inbound
from core.messaging.inbound_identity import change_identity
from core.messaging.inbound_payload import (
    Message,
    Value,
    parse_delivery,
    sender_of,
    to_inbound,
)
from core.messaging.inbound_rows import insert_new
from core.messaging.inbound_status import apply_status
from core.messaging.inbound_types import InboundMessage
from core.messaging.messages import MARK_READ
from core.patients.phones import PhoneVault
from db.engine import scope_session, set_rls_scope
from db.models.messaging import (
    ConversationSession,
    OutboxMessage,
    WebhookInbox,
    WhatsAppMessage,
)
from db.models.tenancy import WhatsAppNumber

log = logging.getLogger("qlink.whatsapp.inbound")
CHANNEL = "whatsapp"
MAX_ATTEMPTS = 5  # a delivery whose processing failed this often is set aside as "failed"
HANDLED_KINDS = frozenset(
    {
        "text",
        "list_reply",
        "button_reply",
        "template_button",
        "flow_reply",
        "location",
        "media",
        "contacts",
    }
)


class Handler(Protocol):
    """What a conversation offers the inbound layer (``core.messaging.conversation``)."""

    def __call__(
        self, session: Session, actor: Actor, *, message: InboundMessage, vault: PhoneVault
    ) -> object: ...


class Limiter(Protocol):
    def allow(self, phone_number_id: str, contact_key: str) -> bool: ...


@dataclass
class DeliveryReport:
    """What one ``process_delivery`` call did (for logs, tests and the benchmark)."""

    handled: int = 0
    duplicates: int = 0
    throttled: int = 0
    ignored: int = 0
    statuses: int = 0
    already_done: bool = False


@dataclass(frozen=True)
class _Run:
    session: Session
    inbox_id: int
    vault: PhoneVault
    limiter: Limiter | None
    handler: Handler
    now: dt.datetime
    clock: Clock
    report: DeliveryReport


def record_delivery(session: Session, body: str, *, now: dt.datetime) -> int:
    """Store a signed delivery's raw body as a pending inbox row; return its id."""
    row = WebhookInbox(channel=CHANNEL, received_at=now, body=body, status="pending", attempts=0)
    session.add(row)
    session.flush()
    return row.id


def pending_deliveries(
    session: Session, *, received_before: dt.datetime, limit: int = 100
) -> list[int]:
    """Return the ids of deliveries stored before ``received_before`` and not yet processed."""
    query = (
        select(WebhookInbox.id)
        .where(WebhookInbox.status == "pending", WebhookInbox.received_at < received_before)
        .order_by(WebhookInbox.received_at)
        .limit(limit)
    )
    return list(session.scalars(query))


def note_failure(session: Session, inbox_id: int, error: str, *, now: dt.datetime) -> bool:
    """Count a failed processing of a delivery (its own transaction rolled back); return
    whether it was set aside as ``failed`` after ``MAX_ATTEMPTS``, so sweeps stop retrying it.
    """
    row = session.get(WebhookInbox, inbox_id, with_for_update=True)
    if row is None or row.status != "pending":
        return False
    row.attempts += 1
    row.last_error = error[:2000]
    if row.attempts < MAX_ATTEMPTS:
        return False
    row.status, row.processed_at = "failed", now
    return True


def process_delivery(
    session: Session,
    inbox_id: int,
    *,
    vault: PhoneVault,
    limiter: Limiter | None = None,
    handler: Handler | None = None,
    clock: Clock = system_clock,
) -> DeliveryReport:
    """Process one stored delivery once; a second call (or a concurrent one) does nothing.

    Open the session unscoped (tenant ``None``): each change enters its clinic's scope. Locks
    the inbox row until commit. A body that is not Meta's envelope marks the row ``failed``.
    """
    report = DeliveryReport()
    row = session.get(WebhookInbox, inbox_id, with_for_update=True)
    if row is None or row.status != "pending":
        report.already_done = True
        return report
    run = _Run(session, inbox_id, vault, limiter, handler or handle_inbound, clock(), clock, report)
    row.attempts += 1
    try:
        delivery = parse_delivery(row.body or "")
    except ValidationFailed as exc:
        log.warning("webhook inbox %s: not a WhatsApp body: %s", inbox_id, exc.details)
        row.status, row.processed_at, row.last_error = "failed", run.now, exc.message
        return report
    for entry in delivery.entry:
        for change in entry.changes:
            if change.value is not None:
                _process_change(run, change.value)
    row.status, row.processed_at = "done", run.now
    return report


def _process_change(run: _Run, value: Value) -> None:
    phone_number_id = value.metadata.phone_number_id if value.metadata else None
    number = run.session.get(WhatsAppNumber, phone_number_id) if phone_number_id else None
    if number is None or phone_number_id is None:
        log.warning("webhook inbox %s: unknown phone_number_id %s", run.inbox_id, phone_number_id)
        run.report.ignored += len(value.messages) + len(value.statuses)
        return
    _enter_tenant(run.session, number.tenant_id)
    actor = Actor.system(number.tenant_id, clock=run.clock)
    for message in value.messages:
        _process_message(run, actor, value, phone_number_id, message)
    for status in value.statuses:
        if apply_status(run.session, actor, status, inbox=run.inbox_id, now=run.now):
            run.report.statuses += 1
        else:
            run.report.duplicates += 1


def _enter_tenant(session: Session, tenant_id: int) -> None:
    # The delivery names its clinic only inside: the scope (ORM filter, RLS) is set per change.
    scope_session(session, tenant_id)
    set_rls_scope(session, session.connection())


def _process_message(
    run: _Run, actor: Actor, value: Value, phone_number_id: str, message: Message
) -> None:
    sender = sender_of(message, value.contacts)
    try:
        inbound = to_inbound(
            message,
            sender,
            tenant_id=actor.require_tenant(),
            phone_number_id=phone_number_id,
            received_at=run.now,
        )
    except ValidationFailed:
        log.warning("webhook inbox %s: message %s has no sender", run.inbox_id, message.id)
        run.report.ignored += 1
        return
    if not _store(run, inbound, message):
        run.report.duplicates += 1
        return
    if inbound.kind == "system":
        _system(run, actor, message)
        return
    if run.limiter is not None and not run.limiter.allow(phone_number_id, inbound.contact_key):
        _mark(run.session, inbound, "throttled")
        log.warning(
            "whatsapp %s: over the inbound rate limit, stored, not processed", phone_number_id
        )
        run.report.throttled += 1
        return
    _touch_window(run.session, inbound, run.now)
    if inbound.kind in HANDLED_KINDS:
        _queue_mark_read(run, inbound)
        run.handler(run.session, actor, message=inbound, vault=run.vault)
        run.report.handled += 1


def _store(run: _Run, inbound: InboundMessage, message: Message) -> bool:
    body: dict[str, Any] = message.model_dump(mode="json", by_alias=True, exclude_none=True)
    return insert_new(
        run.session,
        WhatsAppMessage,
        ["tenant_id", "wa_message_id"],
        tenant_id=inbound.tenant_id,
        direction="in",
        wa_message_id=inbound.wa_message_id,
        phone_number_id=inbound.phone_number_id,
        contact_key=inbound.contact_key,
        msg_type=inbound.kind,
        body=body,
        status="received",
        status_at=inbound.received_at,
        created_at=run.now,
    )


def _queue_mark_read(run: _Run, inbound: InboundMessage) -> None:
    """Blue ticks for a message QLink handles: an outbox row the relay sends after commit."""
    insert_new(
        run.session,
        OutboxMessage,
        ["tenant_id", "dedupe_key"],
        tenant_id=inbound.tenant_id,
        kind=MARK_READ,
        payload={"phone_number_id": inbound.phone_number_id, "message_id": inbound.wa_message_id},
        dedupe_key=f"read:{inbound.wa_message_id}"[:160],
        status="pending",
        attempts=0,
        available_at=run.now,
        created_at=run.now,
    )


def _mark(session: Session, inbound: InboundMessage, status: str) -> None:
    session.execute(
        update(WhatsAppMessage)
        .where(
            WhatsAppMessage.tenant_id == inbound.tenant_id,
            WhatsAppMessage.wa_message_id == inbound.wa_message_id,
        )
        .values(status=status)
    )


def _touch_window(session: Session, inbound: InboundMessage, now: dt.datetime) -> None:
    """Open (or extend) the contact's 24-hour customer-service window; never move it back."""
    insert_new(
        session,
        ConversationSession,
        ["tenant_id", "contact_key"],
        tenant_id=inbound.tenant_id,
        contact_key=inbound.contact_key,
        created_at=now,
    )
    at = inbound.received_at
    session.execute(
        update(ConversationSession)
        .where(
            ConversationSession.tenant_id == inbound.tenant_id,
            ConversationSession.contact_key == inbound.contact_key,
            or_(
                ConversationSession.last_inbound_at.is_(None),
                ConversationSession.last_inbound_at < at,
            ),
        )
        .values(last_inbound_at=at, updated_at=now)
    )


def _system(run: _Run, actor: Actor, message: Message) -> None:
    system = message.system
    if system is None or system.type not in ("user_changed_number", "user_changed_user_id"):
        run.report.ignored += 1
        return
    try:
        change_identity(
            run.session,
            actor,
            vault=run.vault,
            old_phone=message.sender,
            old_bsuid=message.from_user_id,
            new_phone=system.wa_id if system.type == "user_changed_number" else None,
            new_bsuid=system.user_id,
        )
    except ValidationFailed as exc:  # a number we cannot read: keep the old identity
        log.warning("whatsapp %s: identity change not applied: %s", message.id, exc.message)
        run.report.ignored += 1
        return
    run.report.handled += 1
