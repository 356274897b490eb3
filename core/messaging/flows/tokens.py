"""Flow tokens: signed, expiring, carrying the clinic and the WhatsApp contact.

QLink mints the ``flow_token`` it sends in a Flow message; Meta echoes it on every data-exchange
request and in the ``nfm_reply``. The token is ``qf1.<payload>.<mac>`` with an HMAC-SHA256 over
the prefix and payload keyed by ``QLINK_SECRET_KEY``, so the endpoint knows the tenant before any
database read and a forged or expired token is refused (HTTP 427).

``flow_token_signature`` (Data API 4.0, Flow JSON 7.3) is, per two secondary sources, an HS256
JWT signed with the App Secret; it is verified when present and ignored when absent.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from typing import Any

from core.errors import DomainError

PREFIX = "qf1"


class StaleFlowToken(DomainError):
    """The flow token is forged, expired, finished or replaced (HTTP 427 at the endpoint)."""

    code = "flow_token_stale"


class BadFlowSignature(DomainError):
    """``flow_token_signature`` is present and does not verify."""

    code = "flow_token_signature"


@dataclass(frozen=True)
class FlowToken:
    tenant_id: int
    contact_key: str
    expires_at: dt.datetime
    patient_id: int | None = None


def sign_flow_token(secret: str, token: FlowToken) -> str:
    claims: dict[str, Any] = {
        "t": token.tenant_id,
        "c": token.contact_key,
        "e": int(token.expires_at.timestamp()),
        "n": secrets.token_urlsafe(6),  # two flows opened in one second differ
    }
    if token.patient_id is not None:
        claims["p"] = token.patient_id
    payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
    return f"{PREFIX}.{payload}.{_mac(secret, payload)}"


def read_flow_token(secret: str, value: str | None, *, now: dt.datetime) -> FlowToken:
    """Return the token's claims, or raise ``StaleFlowToken`` (forged, malformed, expired)."""
    parts = (value or "").split(".")
    if len(parts) != 3 or parts[0] != PREFIX:
        raise StaleFlowToken("Unknown flow token")
    if not hmac.compare_digest(parts[2], _mac(secret, parts[1])):
        raise StaleFlowToken("Unknown flow token")
    try:
        claims = json.loads(_unb64(parts[1]))
        token = FlowToken(
            tenant_id=int(claims["t"]),
            contact_key=str(claims["c"]),
            expires_at=dt.datetime.fromtimestamp(int(claims["e"]), dt.UTC),
            patient_id=int(claims["p"]) if claims.get("p") is not None else None,
        )
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise StaleFlowToken("Unknown flow token") from exc
    if token.expires_at <= now:
        raise StaleFlowToken("This booking form has expired; send 'book' to start again")
    return token


def check_token_signature(app_secret: str, signature: str | None, flow_token: str) -> None:
    """Verify ``flow_token_signature`` when present (HS256 JWT over the App Secret)."""
    if not signature:
        return
    parts = signature.split(".")
    if len(parts) != 3:
        raise BadFlowSignature("Malformed flow_token_signature")
    try:
        header = json.loads(_unb64(parts[0]))
        claims = json.loads(_unb64(parts[1]))
    except (ValueError, binascii.Error) as exc:
        raise BadFlowSignature("Malformed flow_token_signature") from exc
    if not isinstance(header, dict) or header.get("alg") != "HS256":
        raise BadFlowSignature("flow_token_signature is not HS256")
    signing_input = f"{parts[0]}.{parts[1]}".encode()
    expected = _b64(hmac.new(app_secret.encode(), signing_input, hashlib.sha256).digest())
    if not hmac.compare_digest(expected, parts[2]):
        raise BadFlowSignature("flow_token_signature does not verify")
    claimed = claims.get("flow_token") if isinstance(claims, dict) else None
    if claimed is not None and claimed != flow_token:
        raise BadFlowSignature("flow_token_signature is for another flow token")


def _mac(secret: str, payload: str) -> str:
    digest = hmac.new(secret.encode(), f"{PREFIX}.{payload}".encode(), hashlib.sha256).digest()
    return _b64(digest)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
