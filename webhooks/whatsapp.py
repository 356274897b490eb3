"""``GET``/``POST /webhooks/whatsapp``: Meta's verification handshake and signed deliveries.

A POST is answered as soon as its raw body is committed to the inbox; parsing, routing and the
conversation run afterwards (``WhatsAppInbox.schedule``). Missing signature 401, wrong 403,
not JSON 400: nothing is stored for any of them.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from webhooks.inbox import WhatsAppInbox

log = logging.getLogger("qlink.whatsapp.inbound")


def _inbox(request: Request) -> WhatsAppInbox:
    inbox: WhatsAppInbox = request.app.state.whatsapp
    return inbox


async def verify(request: Request) -> Response:
    """Answer Meta's subscription check with ``hub.challenge`` when the verify token matches."""
    params = request.query_params
    token = params.get("hub.verify_token", "")
    expected: str = request.app.state.settings.whatsapp_verify_token
    if params.get("hub.mode") == "subscribe" and hmac.compare_digest(
        token.encode(), expected.encode()
    ):
        return PlainTextResponse(params.get("hub.challenge", ""))
    log.warning("whatsapp verification refused (mode %r)", params.get("hub.mode"))
    return PlainTextResponse("Forbidden", status_code=403)


async def receive(request: Request) -> Response:
    """Check the signature, store the delivery, answer 200; process it after commit."""
    inbox = _inbox(request)
    body = await request.body()
    signature = request.headers.get("x-hub-signature-256")
    if not signature:
        log.warning("whatsapp delivery without X-Hub-Signature-256 refused")
        return PlainTextResponse("Signature required", status_code=401)
    if not inbox.signature_ok(body, signature):
        log.warning("whatsapp delivery with a wrong signature refused")
        return PlainTextResponse("Bad signature", status_code=403)
    try:
        json.loads(body)
    except ValueError:  # UnicodeDecodeError included
        log.warning("whatsapp delivery that is not JSON refused")
        return PlainTextResponse("Body is not JSON", status_code=400)
    inbox_id = await asyncio.to_thread(inbox.store, body)
    inbox.schedule(inbox_id)
    return PlainTextResponse("OK")
