"""The one outbound WhatsApp adapter: the Graph API over httpx with explicit timeouts.

``GraphClient(base_url, token)`` posts ``/{phone_number_id}/messages`` (base URL with the API
version, e.g. ``https://graph.facebook.com/v24.0``; a local fake in tests) and returns
``Sent(wamid)`` or ``Failed(...)``: Meta's error body (``error.code``, ``title``/``message``,
``error_data.details``) is mapped to a typed outcome; a network error or timeout is a
``Failed`` without a code, which the relay retries. Bodies are built purely in
``core.messaging.graph_body``. ``upload_media`` posts a stored document to
``/{phone_number_id}/media`` (multipart) and returns Meta's media id.
"""

from __future__ import annotations

from typing import Any

import httpx

from core.messaging.graph_body import build_body, mark_read_body
from core.messaging.messages import Message, Recipient
from core.messaging.outbound import Failed, Outcome, Sent

TIMEOUT = httpx.Timeout(connect=3.0, read=10.0, write=10.0, pool=3.0)
UPLOAD_TIMEOUT = httpx.Timeout(connect=3.0, read=30.0, write=30.0, pool=3.0)  # up to 10 MB


class GraphClient:
    def __init__(
        self, base_url: str, access_token: str, *, timeout: httpx.Timeout = TIMEOUT
    ) -> None:
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {access_token}"},
            timeout=timeout,
        )

    def __repr__(self) -> str:
        return f"<GraphClient {self._http.base_url}>"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> GraphClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def post(self, phone_number_id: str, body: dict[str, Any]) -> Outcome:
        """POST one prepared body; return the wamid or the typed failure."""
        try:
            response = self._http.post(f"/{phone_number_id}/messages", json=body)
        except httpx.HTTPError as exc:  # connect/read timeout, refused, reset
            return Failed(None, title=type(exc).__name__, details=str(exc)[:300])
        return parse_response(response.status_code, _json(response))

    def send(
        self, recipient: Recipient, message: Message, *, callback_data: str | None = None
    ) -> Outcome:
        """Send a text, list, buttons or template message (documents need ``send_document``)."""
        body = build_body(recipient, message, callback_data=callback_data)
        return self.post(recipient.phone_number_id, body)

    def upload_media(
        self, phone_number_id: str, content: bytes, mime: str, filename: str
    ) -> str | Failed:
        """Upload a file to ``POST /{phone_number_id}/media``; return its media id or the failure.

        Multipart form as Meta documents it: ``messaging_product=whatsapp``, ``type`` (the MIME
        type) and ``file``. Meta keeps the media 30 days; the id is used once, right away.
        """
        try:
            response = self._http.post(
                f"/{phone_number_id}/media",
                data={"messaging_product": "whatsapp", "type": mime},
                files={"file": (filename, content, mime)},
                timeout=UPLOAD_TIMEOUT,
            )
        except httpx.HTTPError as exc:
            return Failed(None, title=type(exc).__name__, details=str(exc)[:300])
        data = _json(response)
        if 200 <= response.status_code < 300 and data.get("id"):
            return str(data["id"])
        outcome = parse_response(response.status_code, data)
        return outcome if isinstance(outcome, Failed) else Failed(response.status_code, raw=data)

    def send_document(self, recipient: Recipient, message: Message, *, media_id: str) -> Outcome:
        body = build_body(recipient, message, media_id=media_id)
        return self.post(recipient.phone_number_id, body)

    def mark_read(self, phone_number_id: str, message_id: str) -> Outcome:
        """Mark an inbound message read (blue ticks); ``Sent`` carries the same wamid."""
        outcome = self.post(phone_number_id, mark_read_body(message_id))
        return Sent(message_id) if isinstance(outcome, Sent) else outcome


def parse_response(status: int, data: dict[str, Any]) -> Outcome:
    """Map a Graph API answer to ``Sent`` or ``Failed``."""
    if 200 <= status < 300:
        messages = data.get("messages") or []
        if messages and messages[0].get("id"):
            return Sent(str(messages[0]["id"]))
        if data.get("success"):  # mark-as-read answers {"success": true}
            return Sent("")
        return Failed(status, title="no message id in the answer", raw=data)
    error = data.get("error") if isinstance(data.get("error"), dict) else {}
    code = error.get("code")
    details = (error.get("error_data") or {}).get("details")
    return Failed(
        status,
        code=int(code) if isinstance(code, int | str) and str(code).isdigit() else None,
        title=error.get("title") or error.get("message"),  # "message" may be absent
        details=details,
        raw=data,
    )


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {"text": response.text[:500]}
    return data if isinstance(data, dict) else {"value": data}
