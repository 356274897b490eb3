"""Meta-shaped WhatsApp webhook bodies and a signed poster, for the inbound tests and bench.

Fictional numbers only: phones 91987650xxxx, phone_number_ids 1000xxxxxxxx.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from typing import Any

WABA = "100000000000001"


def wamid() -> str:
    return f"wamid.TEST{uuid.uuid4().hex}"


def number_id() -> str:
    return f"1000{uuid.uuid4().int % 10**8:08d}"


def text_message(
    body: str, *, sender: str | None, user_id: str | None = None, **extra: Any
) -> dict[str, Any]:
    message: dict[str, Any] = {
        "id": wamid(),
        "timestamp": "1796000000",
        "type": "text",
        "text": {"body": body},
    }
    if sender is not None:
        message["from"] = sender
    if user_id is not None:
        message["from_user_id"] = user_id
    message.update(extra)
    return message


def contact(
    wa_id: str | None, *, user_id: str | None = None, name: str = "Meena"
) -> dict[str, Any]:
    found: dict[str, Any] = {"profile": {"name": name}}
    if wa_id is not None:
        found["wa_id"] = wa_id
    if user_id is not None:
        found["user_id"] = user_id
    return found


def change(
    phone_number_id: str,
    *,
    messages: list[dict[str, Any]] | None = None,
    statuses: list[dict[str, Any]] | None = None,
    contacts: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550000000", "phone_number_id": phone_number_id},
    }
    for key, items in (("messages", messages), ("statuses", statuses), ("contacts", contacts)):
        if items is not None:
            value[key] = items
    return {"field": "messages", "value": value}


def delivery(*changes: dict[str, Any], entries: int = 1) -> dict[str, Any]:
    """``entries`` entries, the changes spread over them in turn."""
    spread: list[list[dict[str, Any]]] = [[] for _ in range(entries)]
    for index, item in enumerate(changes):
        spread[index % entries].append(item)
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": WABA, "changes": items} for items in spread],
    }


def status(wamid_: str, value: str, *, ts: str = "1796000100", **extra: Any) -> dict[str, Any]:
    return {"id": wamid_, "status": value, "timestamp": ts, "recipient_id": "919876500001", **extra}


def sign(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload).encode()
