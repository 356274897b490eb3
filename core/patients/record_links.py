"""Signed, expiring, revocable links to a patient's own records page (``/me/{ref}``).

A ref is ``base64url(payload) "." base64url(HMAC-SHA256(secret, purpose + payload))`` with the
payload ``tenant.patient.generation.expires``. The purpose string differs from the token page's,
so neither link validates as the other. Revocation raises the patient's generation in
``patient_record_links``: every link signed before stops working at once.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from core import audit
from core.context import Actor, tenant_of
from core.patients.views import load_patient
from core.signage.links import LinkExpired, LinkInvalid
from db.models import PatientRecordLink

_PURPOSE = b"qlink.records-link.v1:"
LINK_TTL = dt.timedelta(days=7)
_B64URL = re.compile(r"^[A-Za-z0-9_-]{1,200}$")


class LinkRevoked(LinkInvalid):
    """The link was genuine but the patient's links were revoked since."""

    code = "link_revoked"


@dataclass(frozen=True)
class RecordsRef:
    """What a signed records link names (checked against the generation by ``current_link``)."""

    tenant_id: int
    patient_id: int
    generation: int
    expires_at: dt.datetime


def issue_records_link(
    session: Session, actor: Actor, *, patient_id: int, secret: str, ttl: dt.timedelta = LINK_TTL
) -> str:
    """Sign a link to the patient's records page valid for ``ttl``; audited (no PHI)."""
    tenant_id = tenant_of(session, actor)
    load_patient(session, tenant_id, patient_id)  # NotFound for another clinic's patient
    generation = _row(session, tenant_id, patient_id, actor.clock()).generation
    expires = actor.clock() + ttl
    payload = f"{tenant_id}.{patient_id}.{generation}.{int(expires.timestamp())}".encode()
    audit.record(
        session, actor, "records_link.issue", entity="patient", entity_id=patient_id,
        detail={"generation": generation, "expires_at": expires.isoformat()},
    )  # fmt: skip
    return f"{_b64(payload)}.{_b64(_mac(secret, payload))}"


def revoke_records_links(session: Session, actor: Actor, *, patient_id: int) -> int:
    """Revoke every records link of the patient signed so far; return the new generation."""
    tenant_id = tenant_of(session, actor)
    load_patient(session, tenant_id, patient_id)
    row = _row(session, tenant_id, patient_id, actor.clock(), lock=True)
    row.generation += 1
    row.updated_at = actor.clock()
    session.flush()
    audit.record(
        session, actor, "records_link.revoke", entity="patient", entity_id=patient_id,
        detail={"generation": row.generation},
    )  # fmt: skip
    return row.generation


def verify_records_ref(secret: str, ref: str, *, now: dt.datetime) -> RecordsRef:
    """Check a ref's signature, then its expiry; ``LinkInvalid`` or ``LinkExpired``."""
    encoded, _, signature = ref.partition(".")
    try:
        payload, given = _unb64(encoded), _unb64(signature)
    except (binascii.Error, ValueError) as exc:
        raise LinkInvalid("This link is not valid") from exc
    if not hmac.compare_digest(given, _mac(secret, payload)):
        raise LinkInvalid("This link is not valid")
    parts = payload.split(b".")
    if len(parts) != 4 or not all(p.isdigit() and len(p) <= 18 for p in parts):
        raise LinkInvalid("This link is not valid")
    tenant, patient, generation, expires = (int(p) for p in parts)
    expires_at = dt.datetime.fromtimestamp(expires, dt.UTC)
    if now >= expires_at:
        raise LinkExpired("This link has expired")
    return RecordsRef(tenant, patient, generation, expires_at)


def check_generation(session: Session, ref: RecordsRef) -> None:
    """Raise ``LinkRevoked`` unless ``ref`` is of the patient's current generation.

    The session is scoped to ``ref.tenant_id`` (the caller opened it from the verified ref).
    """
    current = session.scalar(
        select(PatientRecordLink.generation).where(
            PatientRecordLink.tenant_id == ref.tenant_id,
            PatientRecordLink.patient_id == ref.patient_id,
        )
    )
    if current != ref.generation:
        raise LinkRevoked("This link was withdrawn; ask for a new one on WhatsApp")


def _row(
    session: Session, tenant_id: int, patient_id: int, now: dt.datetime, *, lock: bool = False
) -> PatientRecordLink:
    """The patient's generation row, created at generation 1 if missing (race-safe).

    Two first "my records" requests at once would both miss the row and both INSERT it; the
    second INSERT waits on the first's unique-index entry and then does nothing, so both read
    the one row. ``lock`` takes its row lock (a revocation holds it to its commit).
    """
    dialect = postgresql if session.connection().dialect.name == "postgresql" else sqlite
    session.execute(
        dialect.insert(PatientRecordLink)
        .values(tenant_id=tenant_id, patient_id=patient_id, generation=1, updated_at=now)
        .on_conflict_do_nothing(index_elements=["tenant_id", "patient_id"])
    )
    stmt = select(PatientRecordLink).where(
        PatientRecordLink.tenant_id == tenant_id, PatientRecordLink.patient_id == patient_id
    )
    if lock:
        stmt = stmt.with_for_update()
    return session.scalars(stmt.execution_options(populate_existing=True)).one()


def _mac(secret: str, payload: bytes) -> bytes:
    return hmac.new(secret.encode(), _PURPOSE + payload, hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    if not _B64URL.match(text):
        raise ValueError("not a base64url ref part")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
