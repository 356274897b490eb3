"""Meta's WhatsApp webhook body as pydantic models, and its messages as ``InboundMessage``.

Field names are Meta's (platform notes C.3a, 2.4, 2.7). Every model ignores fields it does not
know, and every field a 2026 payload may omit is optional: the phone (``wa_id``/``from``) of a
username user, the business-scoped user id (``user_id``/``from_user_id``) of an old payload, a
status error's ``message`` (a missing one has crashed other parsers).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.errors import ValidationFailed
from core.messaging.inbound_types import InboundKind, InboundMessage

MEDIA_TYPES = frozenset({"image", "audio", "voice", "video", "document", "sticker"})


class _Meta(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class Profile(_Meta):
    name: str | None = None


class Contact(_Meta):
    wa_id: str | None = None
    user_id: str | None = None  # BSUID
    profile: Profile | None = None


class Reply(_Meta):
    id: str | None = None
    title: str | None = None


class FlowReply(_Meta):
    name: str | None = None
    body: str | None = None
    response_json: str | None = None


class Interactive(_Meta):
    type: str
    list_reply: Reply | None = None
    button_reply: Reply | None = None
    nfm_reply: FlowReply | None = None


class SharedPhone(_Meta):
    phone: str | None = None  # as the user's address book writes it, e.g. "+91 98765 43210"
    wa_id: str | None = None  # digits, when the number is on WhatsApp
    type: str | None = None


class SharedContact(_Meta):
    """One card of a ``contacts`` message (e.g. the answer to ``request_contact_info``)."""

    phones: list[SharedPhone] = Field(default_factory=list)


class TemplateButton(_Meta):
    payload: str | None = None
    text: str | None = None


class Context(_Meta):
    id: str | None = None


class System(_Meta):
    type: str | None = None
    body: str | None = None
    wa_id: str | None = None  # the new phone (user_changed_number)
    user_id: str | None = None  # the new BSUID, when Meta gives it


class Message(_Meta):
    id: str
    timestamp: str | None = None
    type: str = "unsupported"
    sender: str | None = Field(default=None, alias="from")
    from_user_id: str | None = None
    text: dict[str, Any] | None = None
    interactive: Interactive | None = None
    button: TemplateButton | None = None
    context: Context | None = None
    system: System | None = None
    contacts: list[SharedContact] | None = None  # type "contacts": the shared cards


class Status(_Meta):
    id: str
    status: str
    timestamp: str | None = None
    recipient_id: str | None = None
    recipient_user_id: str | None = None
    biz_opaque_callback_data: str | None = None  # our outbox id, echoed by Meta
    errors: list[dict[str, Any]] | None = None
    pricing: dict[str, Any] | None = None


class Metadata(_Meta):
    phone_number_id: str | None = None
    display_phone_number: str | None = None


class Value(_Meta):
    metadata: Metadata | None = None
    contacts: list[Contact] = Field(default_factory=list)
    messages: list[Message] = Field(default_factory=list)
    statuses: list[Status] = Field(default_factory=list)


class Change(_Meta):
    field: str | None = None
    value: Value | None = None


class Entry(_Meta):
    id: str | None = None
    changes: list[Change] = Field(default_factory=list)


class Delivery(_Meta):
    object: str | None = None
    entry: list[Entry] = Field(default_factory=list)


def parse_delivery(raw: str | bytes) -> Delivery:
    """Parse a stored webhook body; ``ValidationFailed`` when it is not Meta's envelope."""
    try:
        return Delivery.model_validate_json(raw)
    except ValidationError as exc:
        raise ValidationFailed("Not a WhatsApp webhook body", errors=exc.error_count()) from exc


def meta_time(timestamp: str | None, default: dt.datetime) -> dt.datetime:
    """Return Meta's unix-seconds string as a UTC datetime (``default`` when absent or bad)."""
    if timestamp is None or not timestamp.strip().isdigit():
        return default
    return dt.datetime.fromtimestamp(int(timestamp), dt.UTC)


def sender_of(message: Message, contacts: list[Contact]) -> Contact:
    """Return who sent ``message``: its own fields first, then the change's contact for it."""
    phone, bsuid = message.sender, message.from_user_id
    match = next(
        (c for c in contacts if (phone and c.wa_id == phone) or (bsuid and c.user_id == bsuid)),
        contacts[0] if len(contacts) == 1 else None,
    )
    if match is None:
        return Contact(wa_id=phone, user_id=bsuid)
    return Contact(
        wa_id=phone or match.wa_id, user_id=bsuid or match.user_id, profile=match.profile
    )


def to_inbound(
    message: Message,
    sender: Contact,
    *,
    tenant_id: int,
    phone_number_id: str,
    received_at: dt.datetime,
) -> InboundMessage:
    """Translate one Meta message into core's ``InboundMessage`` (``ValidationFailed`` if
    the sender has neither a phone nor a business-scoped id)."""
    contact_key = sender.wa_id or sender.user_id
    if not contact_key:
        raise ValidationFailed("A message without a sender", field="from")
    return InboundMessage(
        tenant_id=tenant_id,
        phone_number_id=phone_number_id,
        wa_message_id=message.id,
        contact_key=contact_key,
        received_at=meta_time(message.timestamp, received_at),
        wa_id=sender.wa_id,
        user_id=sender.user_id,
        profile_name=sender.profile.name if sender.profile else None,
        context_id=message.context.id if message.context else None,
        **_content(message),
    )


def _content(message: Message) -> dict[str, Any]:
    kind = message.type
    if kind == "text" and message.text is not None:
        return {"kind": "text", "text": str(message.text.get("body", ""))}
    if kind == "interactive" and message.interactive is not None:
        return _interactive(message.interactive)
    if kind == "button" and message.button is not None:
        return {
            "kind": "template_button",
            "reply_id": message.button.payload,
            "text": message.button.text,
        }
    if kind == "contacts":
        return {"kind": "contacts", "shared_phone": _shared_phone(message.contacts or [])}
    simple: dict[str, InboundKind] = {
        "location": "location",
        "reaction": "reaction",
        "system": "system",
    }
    if kind in simple:
        return {"kind": simple[kind]}
    return {"kind": "media" if kind in MEDIA_TYPES else "unsupported"}


def _shared_phone(cards: list[SharedContact]) -> str | None:
    """The first phone of the shared cards as digits (``wa_id`` first), or ``None``."""
    for card in cards:
        for phone in card.phones:
            digits = "".join(c for c in (phone.wa_id or phone.phone or "") if c.isdigit())
            if 8 <= len(digits) <= 15:  # E.164 allows at most 15 digits
                return digits
    return None


def _interactive(interactive: Interactive) -> dict[str, Any]:
    if interactive.type == "list_reply" and interactive.list_reply is not None:
        reply = interactive.list_reply
        return {"kind": "list_reply", "reply_id": reply.id, "text": reply.title}
    if interactive.type == "button_reply" and interactive.button_reply is not None:
        reply = interactive.button_reply
        return {"kind": "button_reply", "reply_id": reply.id, "text": reply.title}
    if interactive.type == "nfm_reply" and interactive.nfm_reply is not None:
        response = _flow_response(interactive.nfm_reply.response_json)
        token = response.get("flow_token")
        return {
            "kind": "flow_reply",
            "flow_token": token if isinstance(token, str) else None,
            "flow_response": response,
        }
    return {"kind": "unsupported"}


def _flow_response(response_json: str | None) -> dict[str, Any]:
    if not response_json:
        return {}
    try:
        parsed = json.loads(response_json)
    except ValueError:  # a Flow answer we cannot read is an unsupported reply, not a crash
        return {}
    return parsed if isinstance(parsed, dict) else {}
