"""Signed, expiring links to a patient's token page (``/t/{ref}``).

A ref is ``base64url(payload) "." base64url(HMAC-SHA256(secret, purpose + payload))`` where the
payload is ``tenant_id.token_id.expires_epoch``. The purpose string keeps a signature made for
another use of the same secret from ever validating here. Comparison is constant-time.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from core.errors import DomainError

_PURPOSE = b"qlink.token-link.v1:"
LINK_GRACE = dt.timedelta(hours=6)
_B64URL = re.compile(r"^[A-Za-z0-9_-]{1,200}$")


class LinkInvalid(DomainError):
    """The link was altered, truncated or signed with another key."""

    code = "link_invalid"


class LinkExpired(DomainError):
    """The link was genuine but its service day is over."""

    code = "link_expired"


@dataclass(frozen=True)
class TokenRef:
    """What a verified link points at."""

    tenant_id: int
    token_id: int
    expires_at: dt.datetime


def sign_token_ref(secret: str, token_id: int, tenant_id: int, expires_at: dt.datetime) -> str:
    """Return the URL-safe ref of a token page valid until ``expires_at``."""
    if expires_at.tzinfo is None:
        raise ValueError("expires_at must be timezone-aware")
    payload = f"{tenant_id}.{token_id}.{int(expires_at.timestamp())}".encode()
    return f"{_b64(payload)}.{_b64(_mac(secret, payload))}"


def verify_token_ref(secret: str, ref: str, *, now: dt.datetime) -> TokenRef:
    """Check the ref's signature, then its expiry; raise ``LinkInvalid`` or ``LinkExpired``."""
    encoded, _, signature = ref.partition(".")
    try:
        payload = _unb64(encoded)
        given = _unb64(signature)
    except (binascii.Error, ValueError) as exc:
        raise LinkInvalid("This link is not valid") from exc
    if not hmac.compare_digest(given, _mac(secret, payload)):
        raise LinkInvalid("This link is not valid")
    tenant, token, expires = _fields(payload)
    expires_at = dt.datetime.fromtimestamp(expires, dt.UTC)
    if now >= expires_at:
        raise LinkExpired("This token link has expired")
    return TokenRef(tenant, token, expires_at)


def link_expiry(service_date: dt.date, zone: ZoneInfo) -> dt.datetime:
    """Return when a link for ``service_date`` stops working: that day's end plus a grace."""
    next_midnight = dt.datetime.combine(service_date + dt.timedelta(days=1), dt.time(), zone)
    return (next_midnight + LINK_GRACE).astimezone(dt.UTC)


def _mac(secret: str, payload: bytes) -> bytes:
    return hmac.new(secret.encode(), _PURPOSE + payload, hashlib.sha256).digest()


def _fields(payload: bytes) -> tuple[int, int, int]:
    parts = payload.split(b".")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise LinkInvalid("This link is not valid")
    return int(parts[0]), int(parts[1]), int(parts[2])


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    if not _B64URL.match(text):  # the decoder would silently drop stray characters
        raise ValueError("not a base64url ref part")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
