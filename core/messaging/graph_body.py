"""Turn a message spec (``core.messaging.messages``) into the Graph API JSON body, purely.

Field names follow Meta's Cloud API exactly (platform notes C.3b). Limits are applied here so
the HTTP adapter never sends a body Meta would reject for its shape:

- counts are rejected (``MessageShapeError``): more than 3 reply buttons, more than 10 list rows
  in all, more than 10 sections, no rows, duplicate button titles;
- lengths are truncated with an ellipsis: button title 20, row title 24, row description 72,
  section title 24, list button label 20, header 60, footer 60, interactive body 1024, text body
  4096, document caption 1024, Flow CTA 20.

``biz_opaque_callback_data`` carries the outbox id: Meta echoes it in every status webhook, so a
status can be joined to the outbox row even before the wamid is stored.
"""

from __future__ import annotations

from typing import Any

from core.errors import ValidationFailed
from core.messaging.messages import (
    Buttons,
    ContactRequest,
    Document,
    FlowMessage,
    ListMessage,
    Message,
    Recipient,
    Template,
    Text,
)

MAX_BUTTONS = 3
MAX_ROWS = 10
MAX_SECTIONS = 10
BUTTON_TITLE = 20
ROW_TITLE = 24
ROW_DESCRIPTION = 72
SECTION_TITLE = 24
LIST_BUTTON = 20
HEADER = 60
FOOTER = 60
INTERACTIVE_BODY = 1024
TEXT_BODY = 4096
CAPTION = 1024
CALLBACK_DATA = 512
FLOW_CTA = 20
FLOW_MESSAGE_VERSION = "3"
MEDIA_PENDING = "pending-upload"  # the media id of a body built before its document's upload


class MessageShapeError(ValidationFailed):
    """The message cannot be sent in the shape Meta accepts (too many buttons or rows)."""

    code = "message_shape"


def clip(text: str, limit: int) -> str:
    """Return ``text`` cut to ``limit`` characters, marking a cut with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def recipient_fields(recipient: Recipient) -> dict[str, str]:
    """``to`` (phone digits) when known, else ``recipient`` (the business-scoped user id)."""
    if recipient.wa_id:
        return {"to": recipient.wa_id.lstrip("+")}
    if recipient.user_id:
        return {"recipient": recipient.user_id}
    raise MessageShapeError("A message needs a phone number or a business-scoped user id")


def build_body(
    recipient: Recipient,
    message: Message,
    *,
    media_id: str | None = None,
    callback_data: str | None = None,
) -> dict[str, Any]:
    """Return the JSON body of ``POST /{phone_number_id}/messages`` for ``message``.

    ``media_id`` is the uploaded media id a ``Document`` is sent with.
    """
    body: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        **recipient_fields(recipient),
    }
    body.update(_content(message, media_id))
    if callback_data:
        body["biz_opaque_callback_data"] = callback_data[:CALLBACK_DATA]
    return body


def media_document_id(message: Message) -> int | None:
    """The stored document a message carries (a document, or a template's document header)."""
    if isinstance(message, Document | Template):
        return message.document_id
    return None


def attach_media(body: dict[str, Any], media_id: str) -> dict[str, Any]:
    """Return a copy of ``body`` with the uploaded media id in its document or header."""
    out = dict(body)
    if out.get("type") == "document":
        out["document"] = {**out["document"], "id": media_id}
        return out
    if out.get("type") == "template":
        components = []
        for component in out["template"].get("components", []):
            if component.get("type") == "header":
                component = {
                    **component,
                    "parameters": [
                        {**p, "document": {**p["document"], "id": media_id}}
                        if p.get("type") == "document"
                        else p
                        for p in component["parameters"]
                    ],
                }
            components.append(component)
        out["template"] = {**out["template"], "components": components}
        return out
    raise MessageShapeError("Only a document or a document template carries media")


def mark_read_body(message_id: str) -> dict[str, Any]:
    """The body that marks an inbound message (its wamid) as read."""
    return {"messaging_product": "whatsapp", "status": "read", "message_id": message_id}


def _content(message: Message, media_id: str | None) -> dict[str, Any]:
    if isinstance(message, Text):
        text = {"body": clip(message.body, TEXT_BODY), "preview_url": False}
        return {"type": "text", "text": text}
    if isinstance(message, Buttons):
        return {"type": "interactive", "interactive": _buttons(message)}
    if isinstance(message, ListMessage):
        return {"type": "interactive", "interactive": _list(message)}
    if isinstance(message, Template):
        return {"type": "template", "template": _template(message, media_id)}
    if isinstance(message, FlowMessage):
        return {"type": "interactive", "interactive": _flow(message)}
    if isinstance(message, ContactRequest):
        interactive = {
            "type": "request_contact_info",
            "body": {"text": clip(message.body, INTERACTIVE_BODY)},
            "action": {"name": "request_contact_info"},
        }
        return {"type": "interactive", "interactive": interactive}
    if isinstance(message, Document):
        if not media_id:
            raise MessageShapeError("A document is sent with its uploaded media id")
        document = {"id": media_id, "filename": message.filename}
        if message.caption:
            document["caption"] = clip(message.caption, CAPTION)
        return {"type": "document", "document": document}
    raise MessageShapeError(f"Unknown message {type(message).__name__}")


def _flow(message: FlowMessage) -> dict[str, Any]:
    """Meta's interactive ``flow`` message (flow message version 3)."""
    if message.flow_action not in ("navigate", "data_exchange"):
        raise MessageShapeError(f"Unknown flow_action {message.flow_action!r}")
    parameters: dict[str, Any] = {
        "flow_message_version": FLOW_MESSAGE_VERSION,
        "flow_id": message.flow_id,
        "flow_token": message.flow_token,
        "flow_cta": clip(message.cta, FLOW_CTA),
        "flow_action": message.flow_action,
    }
    if message.flow_action == "navigate":  # data_exchange asks the endpoint for the screen
        if not message.screen:
            raise MessageShapeError("A navigate Flow message names its first screen")
        parameters["flow_action_payload"] = {"screen": message.screen}
    interactive = _frame(message, "flow")
    interactive["action"] = {"name": "flow", "parameters": parameters}
    return interactive


def _frame(message: Buttons | ListMessage | FlowMessage, kind: str) -> dict[str, Any]:
    interactive: dict[str, Any] = {"type": kind}
    if message.header:
        interactive["header"] = {"type": "text", "text": clip(message.header, HEADER)}
    interactive["body"] = {"text": clip(message.body, INTERACTIVE_BODY)}
    if message.footer:
        interactive["footer"] = {"text": clip(message.footer, FOOTER)}
    return interactive


def _buttons(message: Buttons) -> dict[str, Any]:
    if not 1 <= len(message.buttons) <= MAX_BUTTONS:
        raise MessageShapeError(f"Reply buttons are 1 to {MAX_BUTTONS}, not {len(message.buttons)}")
    titles = [clip(b.title, BUTTON_TITLE) for b in message.buttons]
    if len(set(titles)) != len(titles):
        raise MessageShapeError("Reply button titles must differ")
    interactive = _frame(message, "button")
    interactive["action"] = {
        "buttons": [
            {"type": "reply", "reply": {"id": b.id, "title": title}}
            for b, title in zip(message.buttons, titles, strict=True)
        ]
    }
    return interactive


def _list(message: ListMessage) -> dict[str, Any]:
    rows = sum(len(s.rows) for s in message.sections)
    if not 1 <= rows <= MAX_ROWS:
        raise MessageShapeError(f"A list has 1 to {MAX_ROWS} rows in all, not {rows}")
    if len(message.sections) > MAX_SECTIONS:
        raise MessageShapeError(f"A list has at most {MAX_SECTIONS} sections")
    sections = []
    for section in message.sections:
        out_rows = []
        for row in section.rows:
            item = {"id": row.id, "title": clip(row.title, ROW_TITLE)}
            if row.description:
                item["description"] = clip(row.description, ROW_DESCRIPTION)
            out_rows.append(item)
        sections.append({"title": clip(section.title, SECTION_TITLE), "rows": out_rows})
    interactive = _frame(message, "list")
    interactive["action"] = {"button": clip(message.button, LIST_BUTTON), "sections": sections}
    return interactive


def _template(message: Template, media_id: str | None) -> dict[str, Any]:
    template: dict[str, Any] = {
        "name": message.name,
        "language": {"code": message.language, "policy": "deterministic"},
    }
    components: list[dict[str, Any]] = []
    if message.document_id is not None:
        if not media_id:
            raise MessageShapeError("A document template is sent with its uploaded media id")
        document = {"id": media_id, "filename": message.filename or "document.pdf"}
        components.append(
            {"type": "header", "parameters": [{"type": "document", "document": document}]}
        )
    if message.params:
        components.append(
            {"type": "body", "parameters": [{"type": "text", "text": p} for p in message.params]}
        )
    if message.copy_code is not None:
        # Meta's authentication template: the code is the body parameter and the copy-code
        # (URL) button's parameter.
        components.append(
            {
                "type": "button",
                "sub_type": "url",
                "index": "0",
                "parameters": [{"type": "text", "text": message.copy_code}],
            }
        )
    components.extend(
        {
            "type": "button",
            "sub_type": "quick_reply",
            "index": str(index),
            "parameters": [{"type": "payload", "payload": payload}],
        }
        for index, payload in enumerate(message.quick_replies)
    )
    if components:
        template["components"] = components
    return template
