"""Delivery rules of outbound WhatsApp messages: the 24-hour window, Meta's error codes, statuses.

Pure decisions plus the ``whatsapp_messages`` bookkeeping; no HTTP here. The Graph adapter
(``workers.graph``) turns an HTTP answer into a ``Sent`` or ``Failed`` outcome, and the relay
(``core.messaging.relay``) applies ``action_for`` to it.

Error codes → actions (platform notes C.3b, 2.5):

==========================  ===========================================================
429 / 5xx / 130429 / 131000  retry with exponential backoff and jitter, then fail
131053                       media upload or download failed: upload again (a retry)
131056                       pace the pair: retry after about 6 s, not counted as a failure
131047                       outside the window: switch to the message's template
131049                       do not retry for 24 h
131026                       undeliverable: mark the contact, never retry
368 / 131048 / 131031        stop every send of the tenant and alert
anything else                fail, with Meta's raw error stored
==========================  ===========================================================
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import random
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.messaging.messages import Message, Template
from db.models import ConversationSession, MessageTemplate, Tenant, WhatsAppMessage

WINDOW = dt.timedelta(hours=24)
PAIR_PACE = dt.timedelta(seconds=6)
HOLD_131049 = dt.timedelta(hours=24)
UNDELIVERABLE_MEMORY = dt.timedelta(days=30)
MAX_ATTEMPTS = 5
BASE_BACKOFF = 2.0  # seconds; doubled per attempt, capped, with full jitter
MAX_BACKOFF = 300.0
BLOCK_KEY = "whatsapp_blocked"  # in tenants.settings: {"at": iso, "code": 368}
STATUS_ORDER = {"queued": 0, "sent": 1, "delivered": 2, "read": 3, "played": 3, "failed": 4}


@dataclass(frozen=True)
class Sent:
    """Meta accepted the message; ``wamid`` joins later status webhooks."""

    wamid: str


@dataclass(frozen=True)
class Failed:
    """Meta (or the network) refused the message; ``raw`` is Meta's error body when present."""

    http_status: int | None
    code: int | None = None
    title: str | None = None
    details: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)


Outcome = Sent | Failed


class Action(enum.Enum):
    RETRY = "retry"
    PACE = "pace"
    TEMPLATE = "template"
    HOLD = "hold"
    UNDELIVERABLE = "undeliverable"
    STOP_TENANT = "stop_tenant"
    FAIL = "fail"


RETRY_CODES = frozenset({130429, 131000, 131053})  # 131053: media upload failed, upload again
STOP_CODES = frozenset({368, 131048, 131031})


def action_for(failure: Failed) -> Action:
    """What to do about a refused send (see the module table)."""
    code = failure.code
    if code == 131056:
        return Action.PACE
    if code == 131047:
        return Action.TEMPLATE
    if code == 131049:
        return Action.HOLD
    if code == 131026:
        return Action.UNDELIVERABLE
    if code in STOP_CODES:
        return Action.STOP_TENANT
    if code in RETRY_CODES:
        return Action.RETRY
    status = failure.http_status
    if status is None or status == 429 or status >= 500:  # network error, throttled, Meta down
        return Action.RETRY
    return Action.FAIL


def backoff(attempt: int, rng: random.Random | None = None) -> dt.timedelta:
    """Delay before retry number ``attempt`` (1-based): exponential, capped, full jitter."""
    ceiling = min(MAX_BACKOFF, BASE_BACKOFF * 2 ** max(0, attempt - 1))
    return dt.timedelta(seconds=(rng or random).uniform(ceiling / 2, ceiling))


def window_open(session: Session, tenant_id: int, contact_key: str, now: dt.datetime) -> bool:
    """Whether the contact wrote within 24 hours (``conversation_sessions.last_inbound_at``)."""
    last = session.execute(
        select(ConversationSession.last_inbound_at).where(
            ConversationSession.tenant_id == tenant_id,
            ConversationSession.contact_key == contact_key,
        )
    ).scalar()
    return last is not None and now - last < WINDOW


def approved_template(
    session: Session, tenant_id: int, name: str, language: str
) -> MessageTemplate | None:
    """The tenant's approved template ``name`` in ``language`` (falling back to English)."""
    for lang in dict.fromkeys((language, language.split("_")[0], "en")):
        row = session.execute(
            select(MessageTemplate).where(
                MessageTemplate.tenant_id == tenant_id,
                MessageTemplate.name == name,
                MessageTemplate.language == lang,
                MessageTemplate.status == "approved",
            )
        ).scalar()
        if row is not None:
            return row
    return None


@dataclass(frozen=True)
class Choice:
    """The message to send now and its pricing category, or ``None`` with the reason."""

    message: Message | None
    pricing_category: str | None
    reason: str | None = None


def choose_message(
    session: Session,
    tenant_id: int,
    contact_key: str,
    message: Message,
    *,
    fallback: Template | None,
    now: dt.datetime,
    force_template: bool = False,
) -> Choice:
    """Free-form inside the window; outside it (or after 131047) the template or nothing."""
    if isinstance(message, Template):
        return _template_choice(session, tenant_id, message)
    if not force_template and window_open(session, tenant_id, contact_key, now):
        return Choice(message, "service")
    if fallback is None:
        return Choice(None, None, "outside the 24-hour window and no template for this message")
    choice = _template_choice(session, tenant_id, fallback)
    if choice.message is None:
        return Choice(None, None, f"outside the 24-hour window and {choice.reason}")
    return choice


def _template_choice(session: Session, tenant_id: int, template: Template) -> Choice:
    row = approved_template(session, tenant_id, template.name, template.language)
    if row is None:
        return Choice(None, None, f"template {template.name!r} is not approved for this clinic")
    chosen = dataclasses.replace(template, language=row.language)
    return Choice(chosen, row.category.lower())


def tenant_blocked(session: Session, tenant_id: int) -> bool:
    """Whether Meta blocked the clinic's sends (368 and friends) and no one cleared it."""
    settings = session.execute(select(Tenant.settings).where(Tenant.id == tenant_id)).scalar()
    return bool((settings or {}).get(BLOCK_KEY))


def block_tenant(session: Session, tenant_id: int, *, code: int | None, now: dt.datetime) -> None:
    """Stop every further send of the tenant until an admin clears ``tenants.settings``."""
    tenant = session.get(Tenant, tenant_id)
    if tenant is None:
        return
    tenant.settings = {**(tenant.settings or {}), BLOCK_KEY: {"at": now.isoformat(), "code": code}}


def contact_undeliverable(
    session: Session, tenant_id: int, contact_key: str, now: dt.datetime
) -> bool:
    """Whether a send to the contact failed with 131026 within the last 30 days."""
    hit = session.execute(
        select(WhatsAppMessage.id)
        .where(
            WhatsAppMessage.tenant_id == tenant_id,
            WhatsAppMessage.contact_key == contact_key,
            WhatsAppMessage.direction == "out",
            WhatsAppMessage.error_code == 131026,
            WhatsAppMessage.created_at > now - UNDELIVERABLE_MEMORY,
        )
        .limit(1)
    ).scalar()
    return hit is not None


def record_status(
    session: Session,
    *,
    tenant_id: int,
    wamid: str,
    status: str,
    at: dt.datetime,
    callback_data: str | None = None,
    pricing_category: str | None = None,
    error_code: int | None = None,
    error_title: str | None = None,
) -> bool:
    """Apply a status webhook to the outbound message; statuses only move forward.

    ``callback_data`` is the ``biz_opaque_callback_data`` Meta echoes (the outbox id): it finds
    the message when the sender crashed before storing the wamid. Returns whether a row matched.
    """
    row = session.execute(
        select(WhatsAppMessage).where(
            WhatsAppMessage.tenant_id == tenant_id, WhatsAppMessage.wa_message_id == wamid
        )
    ).scalar()
    if row is None and callback_data and callback_data.isdigit():
        row = session.execute(
            select(WhatsAppMessage).where(
                WhatsAppMessage.tenant_id == tenant_id,
                WhatsAppMessage.outbox_id == int(callback_data),
                WhatsAppMessage.direction == "out",
            )
        ).scalar()
        if row is not None:
            row.wa_message_id = wamid
    if row is None:
        return False
    if STATUS_ORDER.get(status, -1) > STATUS_ORDER.get(row.status, -1):
        row.status = status
        row.status_at = at
    if pricing_category:
        row.pricing_category = pricing_category
    if error_code is not None:
        row.error_code = error_code
        row.error_title = (error_title or "")[:200] or None
    return True


def usage_by_category(session: Session, tenant_id: int, *, since: dt.datetime) -> dict[str, int]:
    """Outbound messages Meta accepted since ``since``, counted per pricing category."""
    rows = session.execute(
        select(WhatsAppMessage.pricing_category, func.count())
        .where(
            WhatsAppMessage.tenant_id == tenant_id,
            WhatsAppMessage.direction == "out",
            WhatsAppMessage.wa_message_id.is_not(None),
            WhatsAppMessage.created_at >= since,
        )
        .group_by(WhatsAppMessage.pricing_category)
    ).all()
    return {category or "unknown": count for category, count in rows}
