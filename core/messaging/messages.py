"""What QLink says to a patient, independent of Meta's wire format.

Core writes these into the outbox (kind ``SEND``) in the same transaction as the change that
caused them; the worker turns them into Graph API bodies (``core.messaging.graph_body``) after
commit. A message is stored as a plain dict (``to_payload``) and read back with ``from_payload``,
so an outbox row stays readable across releases. Limits are Meta's (see the platform notes):
at most 3 reply buttons (title <= 20 chars), a list of at most 10 rows in all (row title <= 24,
description <= 72, button label <= 20).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SEND = "whatsapp.send"  # outbox kind of a message written by core for one recipient
DOCUMENT = "whatsapp.document"  # outbox kind: send one stored document to its patient
MARK_READ = "whatsapp.mark_read"  # outbox kind: mark one inbound message read


@dataclass(frozen=True)
class Recipient:
    """Who a message goes to: a phone (E.164 digits) and/or a business-scoped user id."""

    contact_key: str  # the conversation's key: wa_id (phone digits) or the BSUID
    phone_number_id: str  # the clinic's WhatsApp number that sends it
    patient_id: int | None = None
    wa_id: str | None = None  # digits, no "+"; absent for a username-only contact
    user_id: str | None = None  # business-scoped user id (BSUID)


@dataclass(frozen=True)
class Text:
    body: str
    kind: str = field(default="text", init=False)


@dataclass(frozen=True)
class Button:
    id: str
    title: str


@dataclass(frozen=True)
class Buttons:
    body: str
    buttons: tuple[Button, ...]
    header: str | None = None
    footer: str | None = None
    kind: str = field(default="buttons", init=False)


@dataclass(frozen=True)
class Row:
    id: str
    title: str
    description: str | None = None


@dataclass(frozen=True)
class Section:
    title: str
    rows: tuple[Row, ...]


@dataclass(frozen=True)
class ListMessage:
    body: str
    button: str
    sections: tuple[Section, ...]
    header: str | None = None
    footer: str | None = None
    kind: str = field(default="list", init=False)


@dataclass(frozen=True)
class Template:
    """An approved template: the only thing that may start a conversation outside 24 hours.

    ``document_id`` (with ``filename``) fills a document header: the stored document is
    uploaded and sent as the template's header, for a document outside the window.
    """

    name: str
    language: str
    params: tuple[str, ...] = ()
    document_id: int | None = None
    filename: str | None = None
    copy_code: str | None = None  # an authentication template's one-time code (its button)
    # payloads of the template's quick-reply buttons, in order: a tap comes back as
    # ``button.payload``, so it names what it answers (Meta: sub_type quick_reply)
    quick_replies: tuple[str, ...] = ()
    kind: str = field(default="template", init=False)


@dataclass(frozen=True)
class Document:
    """A stored document (prescription, receipt) sent as a file."""

    document_id: int  # the stored document's id in QLink
    filename: str
    caption: str | None = None
    kind: str = field(default="document", init=False)


@dataclass(frozen=True)
class FlowMessage:
    """A WhatsApp Flow opened from a button (in the window only): ``flow_action`` is
    ``data_exchange`` (the endpoint's INIT answers the first screen) or ``navigate`` to
    ``screen``; ``flow_token`` is QLink's signed token (``core.messaging.flows.tokens``)."""

    body: str
    flow_id: str
    flow_token: str
    cta: str
    flow_action: str = "data_exchange"
    screen: str | None = None
    header: str | None = None
    footer: str | None = None
    kind: str = field(default="flow", init=False)


@dataclass(frozen=True)
class ContactRequest:
    """Meta's interactive ``request_contact_info``: one tap shares the patient's own phone.

    For a sender known only by username (business-scoped id, no phone); the answer arrives
    as a ``contacts`` message.
    """

    body: str
    kind: str = field(default="contact_request", init=False)


Message = Text | Buttons | ListMessage | Template | Document | FlowMessage | ContactRequest


def to_payload(recipient: Recipient, message: Message) -> dict[str, Any]:
    """Return the outbox payload for sending ``message`` to ``recipient``."""
    return {"recipient": _plain(recipient), "message": _plain(message)}


def from_payload(payload: dict[str, Any]) -> tuple[Recipient, Message]:
    """Read an outbox payload written by ``to_payload``."""
    recipient = Recipient(**payload["recipient"])
    data = dict(payload["message"])
    kind = data.pop("kind")
    if kind == "text":
        return recipient, Text(**data)
    if kind == "buttons":
        buttons = tuple(Button(**b) for b in data.pop("buttons"))
        return recipient, Buttons(buttons=buttons, **data)
    if kind == "list":
        sections = tuple(
            Section(s["title"], tuple(Row(**r) for r in s["rows"])) for s in data.pop("sections")
        )
        return recipient, ListMessage(sections=sections, **data)
    if kind == "template":
        replies = tuple(data.pop("quick_replies", ()))
        return recipient, Template(params=tuple(data.pop("params")), quick_replies=replies, **data)
    if kind == "document":
        return recipient, Document(**data)
    if kind == "flow":
        return recipient, FlowMessage(**data)
    if kind == "contact_request":
        return recipient, ContactRequest(**data)
    raise ValueError(f"Unknown message kind {kind!r}")


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "__dataclass_fields__"):
        return {name: _plain(getattr(value, name)) for name in value.__dataclass_fields__}
    return value
