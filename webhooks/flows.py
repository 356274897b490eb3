"""``POST /webhooks/whatsapp/flows``: the WhatsApp Flows data-exchange endpoint.

Order of checks, each answering with a code the WhatsApp client understands:
``X-Hub-Signature-256`` over the raw body (432), decryption (421), ``ping`` and ``data.error``
(answered without a token), ``flow_token_signature`` when present (432), the signed flow token
(427, with an encrypted ``error_msg``), then the booking Flow in one transaction of the token's
clinic. Replies are encrypted with the request's AES key and the flipped IV, base64 text/plain.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from core.clock import Clock, system_clock
from core.context import Actor
from core.errors import DomainError
from core.messaging.flows.booking import FlowRequest, answer_flow
from core.messaging.flows.crypto import CannotDecrypt, decrypt_request, encrypt_response
from core.messaging.flows.crypto import load_private_key as _load_key
from core.messaging.flows.tokens import (
    BadFlowSignature,
    StaleFlowToken,
    check_token_signature,
    read_flow_token,
)
from db.engine import Database
from qlink.settings import Settings, flows_private_key_pem

log = logging.getLogger("qlink.webhooks.flows")
CANNOT_DECRYPT, STALE_TOKEN, BAD_SIGNATURE = 421, 427, 432


def signature_ok(app_secret: str, body: bytes, header: str | None) -> bool:
    """``X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, raw body)>``, timing-safe."""
    if not header or not header.startswith("sha256="):
        return False
    expected = hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header.removeprefix("sha256=").strip().lower())


async def flows_endpoint(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    raw = await request.body()
    if not signature_ok(
        settings.whatsapp_app_secret, raw, request.headers.get("x-hub-signature-256")
    ):
        return PlainTextResponse("Bad signature", status_code=BAD_SIGNATURE)
    try:
        envelope = json.loads(raw)
        decrypted = decrypt_request(
            await run_in_threadpool(_private_key, request),
            encrypted_flow_data=str(envelope["encrypted_flow_data"]),
            encrypted_aes_key=str(envelope["encrypted_aes_key"]),
            initial_vector=str(envelope["initial_vector"]),
        )
    except (ValueError, KeyError, TypeError, CannotDecrypt):
        return PlainTextResponse("Cannot decrypt", status_code=CANNOT_DECRYPT)
    body, key, iv = decrypted.body, decrypted.aes_key, decrypted.iv

    def reply(payload: dict[str, Any], status: int = 200) -> Response:
        return PlainTextResponse(encrypt_response(payload, key, iv), status_code=status)

    version = str(body.get("version", "3.0"))
    given = body.get("data")
    data: dict[str, Any] = given if isinstance(given, dict) else {}
    action = str(body.get("action", ""))
    if action == "ping":
        return reply({"version": version, "data": {"status": "active"}})
    if "error" in data:  # the client reports an error with our last response
        log.warning("flows client error %s: %s", data.get("error"), data.get("error_message"))
        return reply({"version": version, "data": {"acknowledged": True}})
    raw_token = body.get("flow_token")
    clock: Clock = getattr(request.app.state, "clock", system_clock)
    try:
        check_token_signature(
            settings.whatsapp_app_secret, body.get("flow_token_signature"), str(raw_token)
        )
        token = read_flow_token(settings.secret_key, raw_token, now=clock())
        flow_request = FlowRequest(
            version=version,
            action=action,
            flow_token=str(raw_token),
            screen=body.get("screen") or None,
            data=data,
        )
        db: Database = request.app.state.database

        def work() -> dict[str, Any]:
            actor = Actor(None, token.tenant_id, "system", "whatsapp-flow", clock=clock)
            with db.transaction(token.tenant_id) as session:
                return answer_flow(
                    session, actor, token=token, raw_token=str(raw_token), request=flow_request
                )

        return reply(await run_in_threadpool(work))
    except BadFlowSignature:
        return PlainTextResponse("Bad flow token signature", status_code=BAD_SIGNATURE)
    except StaleFlowToken as exc:
        return reply({"error_msg": exc.message}, STALE_TOKEN)
    except DomainError as exc:
        log.warning("flows request refused: %s (%s)", exc.code, exc.message)
        return PlainTextResponse("Refused", status_code=500)


def _private_key(request: Request) -> rsa.RSAPrivateKey:
    cached: rsa.RSAPrivateKey | None = getattr(request.app.state, "flows_private_key", None)
    if cached is None:
        pem = flows_private_key_pem(request.app.state.settings)
        if pem is None:
            raise CannotDecrypt("No WHATSAPP_FLOWS_PRIVATE_KEY configured")
        cached = _load_key(pem)
        request.app.state.flows_private_key = cached
    return cached


route = Route("/webhooks/whatsapp/flows", flows_endpoint, methods=["POST"])
