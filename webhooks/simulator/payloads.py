"""The bodies Meta sends and answers, built exactly (platform notes C.3a/C.3b), purely.

``delivery`` is the inbound webhook (entry/changes/value/metadata/contacts/messages),
``status_delivery`` a ``statuses`` webhook, ``graph_answer`` the success body of
``POST /{phone_number_id}/messages``, ``sign`` the ``X-Hub-Signature-256`` header value.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass
from typing import Any

WABA_ID = "100000000000000"  # the simulator's WhatsApp Business Account (fictional)
KINDS = ("text", "button_reply", "list_reply")


class PayloadError(ValueError):
    """What the page asked to send is not a message Meta could deliver."""


@dataclass(frozen=True)
class Sender:
    """A patient: phone digits, or a username-only user with just a BSUID, or both."""

    wa_id: str | None
    user_id: str | None
    name: str

    def __post_init__(self) -> None:
        if not self.wa_id and not self.user_id:
            raise PayloadError("A sender needs a phone number or a BSUID")
        if self.wa_id and not self.wa_id.isdigit():
            raise PayloadError("The phone number is digits only, with the country code")

    @property
    def party(self) -> str:
        """The chat key: the phone digits when known, else the BSUID."""
        return self.wa_id or str(self.user_id)


def new_wamid() -> str:
    return "wamid.SIM" + uuid.uuid4().hex.upper()


def sign(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def inbound_message(
    sender: Sender, item: dict[str, Any], *, wamid: str, timestamp: int, business: str
) -> dict[str, Any]:
    """One ``messages[i]``: a text, or the tap of a reply button or a list row.

    ``item`` is ``{"type": "text", "body"}`` or ``{"type": "button_reply"|"list_reply", "id",
    "title", "description"?, "context_id"}`` (the wamid of the bubble tapped).
    """
    kind = item.get("type")
    message: dict[str, Any] = {"id": wamid, "timestamp": str(timestamp)}
    if sender.wa_id:
        message["from"] = sender.wa_id
    if sender.user_id:
        message["from_user_id"] = sender.user_id
    if kind == "text":
        body = str(item.get("body") or "").strip()
        if not body:
            raise PayloadError("A text message needs a body")
        message.update(type="text", text={"body": body[:4096]})
        return message
    if kind not in ("button_reply", "list_reply"):
        raise PayloadError(f"Unknown message type {kind!r}; use one of {', '.join(KINDS)}")
    if not item.get("id") or not item.get("context_id"):
        raise PayloadError("A tap carries the id of the button or row and the bubble's wamid")
    reply = {"id": str(item["id"]), "title": str(item.get("title") or "")}
    if kind == "list_reply" and item.get("description"):
        reply["description"] = str(item["description"])
    message["context"] = {"from": business, "id": str(item["context_id"])}
    message.update(type="interactive", interactive={"type": kind, kind: reply})
    return message


def delivery(
    phone_number_id: str,
    display_number: str,
    sender: Sender,
    messages: list[dict[str, Any]],
) -> dict[str, Any]:
    """The webhook body carrying ``messages`` (one or a batch) from ``sender``."""
    contact: dict[str, Any] = {"profile": {"name": sender.name}}
    if sender.wa_id:
        contact["wa_id"] = sender.wa_id
    if sender.user_id:
        contact["user_id"] = sender.user_id
    value = _value(phone_number_id, display_number)
    value.update(contacts=[contact], messages=messages)
    return _envelope(value)


def status_delivery(
    phone_number_id: str,
    display_number: str,
    *,
    wamid: str,
    status: str,
    timestamp: int,
    recipient: dict[str, str],
    callback_data: str | None,
) -> dict[str, Any]:
    """A ``statuses`` webhook for one of QLink's messages (``sent``, ``delivered``, ``read``)."""
    item: dict[str, Any] = {
        "id": wamid,
        "status": status,
        "timestamp": str(timestamp),
        **recipient,
        "pricing": {
            "billable": False,
            "pricing_model": "PMP",
            "type": "free_customer_service",
            "category": "service",
        },
    }
    if callback_data:
        item["biz_opaque_callback_data"] = callback_data
    value = _value(phone_number_id, display_number)
    value["statuses"] = [item]
    return _envelope(value)


def status_recipient(body: dict[str, Any]) -> dict[str, str]:
    """Whom a status names: ``recipient_id`` (phone) or the BSUID the message went to."""
    if body.get("to"):
        return {"recipient_id": str(body["to"])}
    return {"recipient_user_id": str(body.get("recipient") or "")}


def graph_answer(body: dict[str, Any], wamid: str) -> dict[str, Any]:
    """Meta's success answer to a send."""
    contact = {"input": str(body.get("to") or body.get("recipient") or "")}
    if body.get("to"):
        contact["wa_id"] = str(body["to"])
    return {
        "messaging_product": "whatsapp",
        "contacts": [contact],
        "messages": [{"id": wamid, "message_status": "accepted"}],
    }


def graph_error(code: int, message: str) -> dict[str, Any]:
    """Meta's error body (``error.code``, ``message``, ``error_data.details``)."""
    return {
        "error": {
            "message": f"({code}) {message}",
            "type": "OAuthException",
            "code": code,
            "error_data": {"messaging_product": "whatsapp", "details": message},
            "fbtrace_id": "Asimulator",
        }
    }


def _value(phone_number_id: str, display_number: str) -> dict[str, Any]:
    return {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": display_number, "phone_number_id": phone_number_id},
    }


def _envelope(value: dict[str, Any]) -> dict[str, Any]:
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": WABA_ID, "changes": [{"field": "messages", "value": value}]}],
    }
