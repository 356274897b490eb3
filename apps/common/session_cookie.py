"""The staff session cookie: the server-side session secret, signed with QLINK_SECRET_KEY.

The cookie only carries the opaque secret ``core.auth.users`` issued; idle timeout, lockout and
revocation stay server-side. The signature (HMAC-SHA256 over a purpose prefix, the issue time
and the secret) lets a tampered or foreign cookie be refused before any database lookup, and
the issue time bounds how long one cookie can be replayed even while its session stays busy.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass

COOKIE = "qlink_sid"
MAX_AGE_SECONDS = 12 * 3600  # one long shift; the server-side idle timeout is much shorter
_PURPOSE = b"qlink.staff-session.v1:"


@dataclass(frozen=True)
class CookieAttributes:
    """How the cookie is set: HttpOnly always, SameSite=Lax, Secure when served over TLS."""

    secure: bool
    max_age: int = MAX_AGE_SECONDS
    httponly: bool = True
    samesite: str = "lax"
    path: str = "/"


def seal(key: str, secret: str, *, now: float | None = None) -> str:
    """Return the cookie value carrying ``secret``, signed with ``key``."""
    issued = str(int(time.time() if now is None else now))
    return f"{issued}.{secret}.{_mac(key, issued, secret)}"


def unseal(key: str, value: str | None, *, now: float | None = None) -> str | None:
    """Return the session secret of a genuine, unexpired cookie value, else None."""
    if not value or value.count(".") != 2:
        return None
    issued, secret, mac = value.split(".")
    if not issued.isdigit() or not secret:
        return None
    if not hmac.compare_digest(mac, _mac(key, issued, secret)):
        return None
    age = (time.time() if now is None else now) - int(issued)
    return secret if 0 <= age < MAX_AGE_SECONDS else None


def _mac(key: str, issued: str, secret: str) -> str:
    message = _PURPOSE + issued.encode() + b"." + secret.encode()
    digest = hmac.new(key.encode(), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
