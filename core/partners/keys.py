"""Partner API keys (one clinic each, hashed at rest, revocable) and the clinic's websites.

The websites (``api_origins``, ``scheme://host[:port]``) are the one list of a clinic's own sites:
the partner API answers their browsers (CORS) and the booking page lets them frame it (CSP
``frame-ancestors``, ``core.scheduling.web_booking.public_clinic``).

A key reads ``qlk_<tenant>_<client>_<secret>``: the tenant and client ids let the service scope
its session before looking the key up; only SHA-256 of the 32-byte random secret is stored (a
secret that long needs no slow hash), compared in constant time. The key is shown once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from core import audit
from core.auth.permissions import require
from core.clock import Clock, system_clock
from core.context import Actor, load_owned, tenant_of
from core.errors import AuthenticationFailed, Conflict, ValidationFailed
from db.models import ApiClient, ApiOrigin

PREFIX = "qlk"
_KEY = re.compile(r"^qlk_([1-9][0-9]{0,17})_([1-9][0-9]{0,17})_([A-Za-z0-9_-]{43})$")
_ORIGIN = re.compile(r"^https?://[a-z0-9.-]+(:[0-9]{1,5})?$")
PARTNER_ROLE = "partner_api"
MAX_ORIGINS = 20


@dataclass(frozen=True)
class NewKey:
    """A client just created and its key, the only time the key is known."""

    client_id: int
    name: str
    key: str


@dataclass(frozen=True)
class ClientInfo:
    """A client as listed (never its key)."""

    client_id: int
    name: str
    created_at: dt.datetime
    created_by: str
    revoked_at: dt.datetime | None


@dataclass(frozen=True)
class KeyRef:
    """The ids a key names, read before any database access."""

    tenant_id: int
    client_id: int
    secret: str


def create_api_client(session: Session, actor: Actor, *, name: str) -> NewKey:
    """Create a partner client of the actor's clinic; return its key (shown once); audited."""
    require(actor, "settings.write")
    tenant_id = tenant_of(session, actor)
    name = _name(name)
    secret = secrets.token_urlsafe(32)
    client = ApiClient(
        tenant_id=tenant_id,
        name=name,
        secret_hash=_hash(secret),
        created_by=actor.label[:80],
        created_at=actor.clock(),
    )
    session.add(client)
    session.flush()
    audit.record(session, actor, "api_client.create", entity="api_client", entity_id=client.id)
    return NewKey(client.id, name, f"{PREFIX}_{tenant_id}_{client.id}_{secret}")


def list_api_clients(session: Session, actor: Actor) -> list[ClientInfo]:
    """Return the clinic's partner clients, newest first (no keys)."""
    require(actor, "settings.write")
    rows = session.scalars(
        select(ApiClient)
        .where(ApiClient.tenant_id == tenant_of(session, actor))
        .order_by(ApiClient.id.desc())
    )
    return [ClientInfo(c.id, c.name, c.created_at, c.created_by, c.revoked_at) for c in rows]


def revoke_api_client(session: Session, actor: Actor, *, client_id: int) -> ClientInfo:
    """Revoke a client's key at once; ``Conflict`` if it already was; audited."""
    require(actor, "settings.write")
    client = load_owned(session, actor, ApiClient, client_id, "API client")
    if client.revoked_at is not None:
        raise Conflict("This API key is already revoked")
    client.revoked_at = actor.clock()
    audit.record(session, actor, "api_client.revoke", entity="api_client", entity_id=client.id)
    return ClientInfo(
        client.id, client.name, client.created_at, client.created_by, client.revoked_at
    )


def parse_key(key: str) -> KeyRef:
    """Split a presented key into its ids; ``AuthenticationFailed`` if it is not one."""
    match = _KEY.match(key or "")
    if match is None:
        raise AuthenticationFailed("Invalid API key")
    return KeyRef(int(match[1]), int(match[2]), match[3])


def authenticate_key(session: Session, ref: KeyRef) -> ApiClient:
    """Return the live client a key belongs to; ``AuthenticationFailed`` otherwise.

    The session must be scoped to ``ref.tenant_id`` (the caller opens it from the key).
    """
    client = session.get(ApiClient, ref.client_id)
    if (
        client is None
        or client.tenant_id != ref.tenant_id
        or not hmac.compare_digest(client.secret_hash, _hash(ref.secret))
    ):
        raise AuthenticationFailed("Invalid API key")
    if client.revoked_at is not None:
        raise AuthenticationFailed("This API key was revoked")
    return client


def partner_actor(client: ApiClient, *, clock: Clock = system_clock) -> Actor:
    """Return the actor a partner client acts as inside its clinic (audited by name)."""
    label = f"api:{client.id}:{client.name}"[:80]
    return Actor(None, client.tenant_id, PARTNER_ROLE, label, clock=clock)


def add_origin(session: Session, actor: Actor, *, origin: str) -> str:
    """Add a clinic website (``https://host[:port]``): it may call the API and embed the booking
    page; at most ``MAX_ORIGINS``; audited."""
    require(actor, "settings.write")
    tenant_id = tenant_of(session, actor)
    origin = clean_origin(origin)
    known = clinic_origins(session, tenant_id)
    if origin not in known:
        if len(known) >= MAX_ORIGINS:
            raise ValidationFailed(f"At most {MAX_ORIGINS} websites", field="origin")
        session.add(ApiOrigin(tenant_id=tenant_id, origin=origin, created_at=actor.clock()))
        session.flush()
        audit.record(
            session, actor, "api_origin.add", entity="api_origin", detail={"origin": origin}
        )
    return origin


def remove_origin(session: Session, actor: Actor, *, origin: str) -> None:
    """Remove a clinic website (no more API calls from it, no more embedding); audited."""
    require(actor, "settings.write")
    tenant_id = tenant_of(session, actor)
    origin = clean_origin(origin)
    session.execute(
        delete(ApiOrigin).where(ApiOrigin.tenant_id == tenant_id, ApiOrigin.origin == origin)
    )
    audit.record(
        session, actor, "api_origin.remove", entity="api_origin", detail={"origin": origin}
    )


def list_origins(session: Session, actor: Actor) -> list[str]:
    """Return the clinic's websites, sorted."""
    require(actor, "settings.write")
    return clinic_origins(session, tenant_of(session, actor))


def clinic_origins(session: Session, tenant_id: int) -> list[str]:
    """Return a clinic's websites (the caller scoped the session to that clinic: a key, a slug)."""
    return list(
        session.scalars(
            select(ApiOrigin.origin)
            .where(ApiOrigin.tenant_id == tenant_id)
            .order_by(ApiOrigin.origin)
        )
    )


def origin_known(session: Session, origin: str) -> bool:
    """Tell whether any clinic allows ``origin`` (CORS preflights carry no key; platform scope)."""
    return (
        session.scalar(select(ApiOrigin.id).where(ApiOrigin.origin == origin).limit(1)) is not None
    )


def clean_origin(origin: str) -> str:
    """Return ``origin`` normalised, or raise ``ValidationFailed`` if it is not one."""
    value = (origin or "").strip().rstrip("/").lower()
    parts = urlsplit(value)
    if not _ORIGIN.match(value) or parts.path or parts.query:
        shown = (origin or "").strip()[:80]
        raise ValidationFailed(
            f"{shown!r} is not a website address: give the scheme and host only, "
            "like https://www.example.com (no path)",
            field="origin",
        )
    return value


def _name(name: str) -> str:
    value = (name or "").strip()
    if not value or len(value) > 60:
        raise ValidationFailed("Name the client (1-60 characters)", field="name")
    return value


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
