"""One inbound WhatsApp message as core sees it, parsed from Meta's webhook by the inbound layer."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal

InboundKind = Literal[
    "text",  # text.body
    "list_reply",  # interactive.list_reply {id, title}
    "button_reply",  # interactive.button_reply {id, title}
    "template_button",  # type "button": a template quick-reply tap, button.payload
    "flow_reply",  # interactive.nfm_reply: response_json with flow_token
    "location",
    "media",  # image, audio (voice), video, document, sticker
    "reaction",
    "contacts",
    "system",  # user_changed_number / user_changed_user_id (handled by the inbound layer)
    "unsupported",
]


@dataclass(frozen=True)
class InboundMessage:
    """A message a patient sent to a clinic's number, after signature, routing and dedupe."""

    tenant_id: int
    phone_number_id: str  # the clinic's number it was sent to (branch routing)
    wa_message_id: str  # "wamid..."; unique per tenant (idempotency)
    contact_key: str  # wa_id (phone digits) when known, else the business-scoped user id
    kind: InboundKind
    received_at: dt.datetime  # Meta's timestamp (UTC)
    wa_id: str | None = None  # sender's phone digits; may be absent (usernames, 2026)
    user_id: str | None = None  # business-scoped user id (BSUID); old payloads lack it
    profile_name: str | None = None
    text: str | None = None  # text body, or the tapped button/row title
    reply_id: str | None = None  # id of the tapped list row / reply button / template payload
    flow_token: str | None = None
    flow_response: dict[str, Any] = field(default_factory=dict)
    context_id: str | None = None  # the wamid of our message this replies to
    shared_phone: str | None = None  # a ``contacts`` message: the first phone's digits
