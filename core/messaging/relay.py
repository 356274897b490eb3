"""The transactional outbox relay: claim due rows, send after commit, record the outcome.

One send is three short transactions, and the HTTP call happens between the second and third:

1. ``claim_due``: compare-and-set ``pending → sending`` (``claimed_by``, ``claimed_at``,
   ``attempts + 1``); on PostgreSQL the candidates are read ``FOR UPDATE SKIP LOCKED`` so
   relays never wait on each other. A ``sending`` claim older than ``LEASE`` is reclaimed (its
   worker died between claim and outcome).
2. ``begin_send``: renders the row, applies the window/tenant/contact rules and writes the
   ``whatsapp_messages`` row (status ``queued``, ``outbox_id``) — the journal of the attempt.
   If a reclaimed row's journal already holds a wamid, the message went out: the row is marked
   sent and nothing is resent.
3. ``finish_send``: the wamid and ``sent`` go to the journal and the outbox row in one
   transaction, or the failure is applied (``core.messaging.outbound.action_for``).

Documents (a ``Document`` message, a ``whatsapp.document`` intent, or a template with a
document header): ``begin_send`` reads the stored bytes into the ``Attempt`` (``media``) and
builds the body with ``MEDIA_PENDING``; the worker uploads the bytes to Meta's media endpoint,
puts the media id in the body (``graph_body.attach_media``) and posts it. A failed upload is
the attempt's outcome (retried like a failed send); nothing is posted without its media.

Idempotency and its honest limit: Meta has no idempotency key. Every body carries
``biz_opaque_callback_data`` = the outbox id, which Meta echoes in status webhooks;
``outbound.record_status`` stores the wamid on the journal row from it. So a worker killed
after Meta accepted the message but before step 3 does not resend once the ``sent`` status
webhook has arrived (seconds, well inside ``LEASE``). The remaining at-least-once window: the
worker dies after Meta accepted the message and no status webhook reaches QLink before the lease
expires — that message is sent twice.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import CursorResult, and_, or_, select, update
from sqlalchemy.orm import Session

from core.documents.store import stored_bytes
from core.messaging import outbound
from core.messaging.graph_body import (
    MEDIA_PENDING,
    MessageShapeError,
    build_body,
    mark_read_body,
    media_document_id,
)
from core.messaging.messages import MARK_READ, SEND, Message, Template, from_payload
from core.messaging.notify import INTENTS, QUEUE_INTENTS, NotRenderable, render
from core.messaging.outbound import Action, Failed, Outcome, Sent
from core.patients.phones import PhoneVault
from db.models import Document, OutboxMessage, WhatsAppMessage

KINDS = (SEND, MARK_READ, *INTENTS)
LEASE = dt.timedelta(seconds=30)
BATCH = 20


@dataclass(frozen=True)
class Media:
    """A stored document to upload to Meta's media endpoint before the message is sent."""

    document_id: int
    filename: str
    mime: str
    content: bytes = field(repr=False)


@dataclass(frozen=True)
class Attempt:
    """One send ready for the HTTP call (built in ``begin_send``, committed before it)."""

    outbox_id: int
    tenant_id: int
    message_id: int | None  # the whatsapp_messages journal row (none for a mark-as-read)
    phone_number_id: str
    body: dict[str, Any]
    attempts: int
    has_fallback: bool
    media: Media | None = None  # upload first; ``body`` holds ``MEDIA_PENDING`` until then
    contact_key: str = ""  # the recipient, for pacing per pair (empty for a mark-as-read)


def claim_due(
    session: Session,
    *,
    worker: str,
    now: dt.datetime,
    lease: dt.timedelta = LEASE,
    limit: int = BATCH,
    outbox_ids: list[int] | None = None,
) -> list[int]:
    """Claim due WhatsApp rows for ``worker`` by compare-and-set; return the claimed ids.

    Runs in the platform scope (all tenants). Locks: the candidate rows, ``SKIP LOCKED`` on
    PostgreSQL, until the caller commits.
    """
    due = or_(
        and_(OutboxMessage.status == "pending", OutboxMessage.available_at <= now),
        and_(OutboxMessage.status == "sending", OutboxMessage.claimed_at < now - lease),
    )
    query = (
        select(OutboxMessage.id, OutboxMessage.status)
        .where(OutboxMessage.kind.in_(KINDS), due)
        .order_by(OutboxMessage.available_at, OutboxMessage.id)
        .limit(limit)
    )
    if outbox_ids is not None:
        query = query.where(OutboxMessage.id.in_(outbox_ids))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    claimed = []
    for row_id, status in session.execute(query).all():
        result = session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == row_id, OutboxMessage.status == status, due)
            .values(
                status="sending",
                claimed_by=worker[:80],
                claimed_at=now,
                attempts=OutboxMessage.attempts + 1,
            )
            .execution_options(synchronize_session=False)
        )
        if cast(CursorResult[Any], result).rowcount == 1:
            claimed.append(row_id)
    return claimed


def begin_send(
    session: Session, outbox_id: int, *, worker: str, vault: PhoneVault, now: dt.datetime
) -> Attempt | None:
    """Prepare the claimed row's send and journal it; ``None`` when nothing is to be sent.

    Locks: the outbox row (``FOR UPDATE``) until the caller commits.
    """
    row = session.get(OutboxMessage, outbox_id, populate_existing=True, with_for_update=True)
    if row is None or row.status != "sending" or row.claimed_by != worker[:80]:
        return None  # another relay reclaimed it, or it is done
    if row.kind == MARK_READ:
        return _mark_read(session, row, now)
    journal = session.execute(
        select(WhatsAppMessage).where(
            WhatsAppMessage.tenant_id == row.tenant_id,
            WhatsAppMessage.outbox_id == row.id,
            WhatsAppMessage.direction == "out",
        )
    ).scalar()
    if journal is not None and journal.wa_message_id:  # Meta took it before a crash
        _close(row, "sent", now)
        return None
    if outbound.tenant_blocked(session, row.tenant_id):
        _close(row, "blocked", now, "the clinic's WhatsApp sends are stopped (policy block)")
        return None
    try:
        recipient, message, fallback = _resolve(session, row, vault, now)
    except (NotRenderable, MessageShapeError) as exc:
        _close(row, "skipped", now, str(exc))
        return None
    if outbound.contact_undeliverable(session, row.tenant_id, recipient.contact_key, now):
        _close(row, "skipped", now, "131026: the contact is not reachable on WhatsApp")
        return None
    force = bool(journal is not None and journal.error_code == 131047)
    choice = outbound.choose_message(
        session,
        row.tenant_id,
        recipient.contact_key,
        message,
        fallback=fallback,
        now=now,
        force_template=force,
    )
    if choice.message is None:
        _close(row, "skipped", now, choice.reason)
        return None
    media = None
    document_id = media_document_id(choice.message)
    if document_id is not None:
        media = _media(session, row.tenant_id, document_id)
        if media is None:
            _close(row, "skipped", now, "the document or its stored content no longer exists")
            return None
    body = build_body(
        recipient,
        choice.message,
        media_id=MEDIA_PENDING if media else None,
        callback_data=str(row.id),
    )
    if journal is None:
        journal = WhatsAppMessage(
            tenant_id=row.tenant_id,
            direction="out",
            phone_number_id=recipient.phone_number_id,
            contact_key=recipient.contact_key,
            patient_id=recipient.patient_id,
            outbox_id=row.id,
            created_at=now,
        )
        session.add(journal)
    journal.msg_type = choice.message.kind
    journal.template_name = choice.message.name if isinstance(choice.message, Template) else None
    journal.body = {k: v for k, v in body.items() if k not in ("to", "recipient")}
    journal.status = "queued"
    journal.pricing_category = choice.pricing_category
    session.flush()
    return Attempt(
        row.id,
        row.tenant_id,
        journal.id,
        recipient.phone_number_id,
        body,
        row.attempts,
        fallback is not None and not isinstance(choice.message, Template),
        media,
        recipient.contact_key,
    )


def finish_send(
    session: Session,
    attempt: Attempt,
    outcome: Outcome,
    *,
    now: dt.datetime,
    rng: random.Random | None = None,
) -> Action | None:
    """Record the HTTP outcome in one transaction; return the action taken on a failure.

    Locks: the outbox row (``FOR UPDATE``) until the caller commits.
    """
    row = session.get(
        OutboxMessage, attempt.outbox_id, populate_existing=True, with_for_update=True
    )
    if row is None:
        return None
    if attempt.message_id is None:
        return _finish_mark_read(session, row, attempt, outcome, now, rng)
    journal = session.get(WhatsAppMessage, attempt.message_id)
    if journal is None:
        return None
    if isinstance(outcome, Sent):
        journal.wa_message_id = outcome.wamid
        if attempt.media is not None:  # the body as sent, with the uploaded media id
            journal.body = {k: v for k, v in attempt.body.items() if k not in ("to", "recipient")}
        if outbound.STATUS_ORDER.get(journal.status, 0) < outbound.STATUS_ORDER["sent"]:
            journal.status = "sent"
            journal.status_at = now
        journal.error_code = None
        _close(row, "sent", now)
        return None
    action = outbound.action_for(outcome)
    journal.error_code = outcome.code
    journal.error_title = (outcome.title or "")[:200] or None
    row.last_error = _describe(outcome)
    if action is Action.RETRY and attempt.attempts >= outbound.MAX_ATTEMPTS:
        action = Action.FAIL
    if action is Action.TEMPLATE and not attempt.has_fallback:
        action = Action.FAIL
    if action is Action.RETRY:
        _again(row, journal, now + outbound.backoff(attempt.attempts, rng))
    elif action is Action.PACE:
        _again(row, journal, now + outbound.PAIR_PACE + outbound.backoff(1, rng))
    elif action is Action.TEMPLATE:
        _again(row, journal, now)
    elif action is Action.HOLD and row.kind in QUEUE_INTENTS:
        # "Your turn" a day late is wrong, not late: drop it instead of holding it 24 h.
        journal.status = "failed"
        journal.status_at = now
        _close(row, "dropped", now, f"{row.last_error} (queue update stale after a 24 h hold)")
    elif action is Action.HOLD:
        _again(row, journal, now + outbound.HOLD_131049)
    else:
        journal.status = "failed"
        journal.status_at = now
        if action is Action.STOP_TENANT:
            outbound.block_tenant(session, attempt.tenant_id, code=outcome.code, now=now)
        _close(row, "failed", now, row.last_error)
    return action


def _resolve(
    session: Session, row: OutboxMessage, vault: PhoneVault, now: dt.datetime
) -> tuple[Any, Message, Template | None]:
    if row.kind == SEND:
        recipient, message = from_payload(row.payload)
        fallback = row.payload.get("fallback")
        template = (
            Template(fallback["name"], fallback["language"], tuple(fallback.get("params", ())))
            if fallback
            else None
        )
        return recipient, message, template
    rendered = render(session, row.tenant_id, row.kind, row.payload, vault, now=now)
    return rendered.recipient, rendered.message, rendered.fallback


def defer_send(session: Session, attempt: Attempt, *, until: dt.datetime) -> bool:
    """Put a prepared send back, due at ``until``, without counting it as an attempt.

    For pacing: the relay may not send now (the recipient's or the number's rate is used up).
    The journal row stays ``queued`` and is reused by the next attempt. Returns whether the
    row was still this attempt's. Locks: the outbox row (``FOR UPDATE``) until commit.
    """
    row = session.get(
        OutboxMessage, attempt.outbox_id, populate_existing=True, with_for_update=True
    )
    if row is None or row.status != "sending":
        return False
    row.status = "pending"
    row.available_at = until
    row.claimed_by = None
    row.claimed_at = None
    row.attempts = max(row.attempts - 1, 0)
    return True


def _mark_read(session: Session, row: OutboxMessage, now: dt.datetime) -> Attempt | None:
    """A blue tick for an inbound message: no journal row, no window, no template."""
    if outbound.tenant_blocked(session, row.tenant_id):
        _close(row, "blocked", now, "the clinic's WhatsApp sends are stopped (policy block)")
        return None
    phone_number_id = str(row.payload.get("phone_number_id") or "")
    message_id = str(row.payload.get("message_id") or "")
    if not phone_number_id or not message_id:
        _close(row, "skipped", now, "a mark-as-read needs the number and the message id")
        return None
    return Attempt(
        row.id,
        row.tenant_id,
        None,
        phone_number_id,
        mark_read_body(message_id),
        row.attempts,
        False,
    )


def _finish_mark_read(
    session: Session,
    row: OutboxMessage,
    attempt: Attempt,
    outcome: Outcome,
    now: dt.datetime,
    rng: random.Random | None,
) -> Action | None:
    if isinstance(outcome, Sent):
        _close(row, "sent", now)
        return None
    action = outbound.action_for(outcome)
    row.last_error = _describe(outcome)
    if action in (Action.RETRY, Action.PACE) and attempt.attempts < outbound.MAX_ATTEMPTS:
        row.status, row.claimed_by, row.claimed_at = "pending", None, None
        row.available_at = now + outbound.backoff(attempt.attempts, rng)
        return Action.RETRY
    if action is Action.STOP_TENANT:
        outbound.block_tenant(session, attempt.tenant_id, code=outcome.code, now=now)
    _close(row, "failed", now, row.last_error)  # a missing blue tick is not worth more
    return action if action is Action.STOP_TENANT else Action.FAIL


def _media(session: Session, tenant_id: int, document_id: int) -> Media | None:
    document = session.execute(
        select(Document).where(Document.tenant_id == tenant_id, Document.id == document_id)
    ).scalar()
    if document is None or document.retracted:
        return None
    content = stored_bytes(session, tenant_id, document_id)
    if content is None:
        return None
    return Media(document.id, document.filename, document.content_type, content)


def _again(row: OutboxMessage, journal: WhatsAppMessage, at: dt.datetime) -> None:
    row.status = "pending"
    row.available_at = at
    row.claimed_by = None
    row.claimed_at = None
    journal.status = "queued"


def _close(row: OutboxMessage, status: str, now: dt.datetime, error: str | None = None) -> None:
    row.status = status
    row.claimed_by = None
    if status == "sent":
        row.sent_at = now
    if error:
        row.last_error = error


def _describe(failure: Failed) -> str:
    head = f"{failure.code or failure.http_status}: {failure.title or 'error'}"
    return f"{head} {failure.raw}" if failure.raw else head
