"""Append-only, hash-chained audit log of sensitive reads and writes."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from core.context import Actor
from db.models import AuditEntry

GENESIS = "0" * 64
_HEAD = text(
    "INSERT INTO audit_chain_heads (chain, last_seq, last_hash) VALUES (:c, 0, :g) "
    "ON CONFLICT (chain) DO NOTHING"
)
_ADVANCE = text(
    "UPDATE audit_chain_heads SET last_seq = last_seq + 1 WHERE chain = :c "
    "RETURNING last_seq, last_hash"
)
_SET_HASH = text("UPDATE audit_chain_heads SET last_hash = :h WHERE chain = :c")


def record(
    session: Session,
    actor: Actor,
    action: str,
    *,
    entity: str,
    entity_id: object = None,
    detail: dict[str, Any] | None = None,
) -> str:
    """Append an audit entry for ``actor`` doing ``action``; return its hash.

    Holds the chain head's row lock until commit, so entries of one tenant are strictly ordered.
    Keep PHI out of ``detail``: ids and field names, not values.
    """
    chain = _chain(actor.tenant_id)
    session.execute(_HEAD, {"c": chain, "g": GENESIS})
    seq, prev = session.execute(_ADVANCE, {"c": chain}).one()
    row = {
        "tenant_id": actor.tenant_id,
        "chain": chain,
        "seq": int(seq),
        "actor_id": actor.user_id,
        "actor_label": actor.label,
        "action": action,
        "entity": entity,
        "entity_id": None if entity_id is None else str(entity_id),
        "detail": detail or {},
        "created_at": actor.clock(),
        "prev_hash": prev,
    }
    row["hash"] = entry_hash(row)
    session.execute(insert(AuditEntry).values(**row))
    session.execute(_SET_HASH, {"h": row["hash"], "c": chain})
    return str(row["hash"])


def entry_hash(row: dict[str, Any]) -> str:
    fields = {k: row[k] for k in _HASHED}
    fields["created_at"] = row["created_at"].astimezone(dt.UTC).isoformat(timespec="microseconds")
    payload = json.dumps(fields, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()


_HASHED = (
    "tenant_id",
    "chain",
    "seq",
    "actor_id",
    "actor_label",
    "action",
    "entity",
    "entity_id",
    "detail",
    "created_at",
    "prev_hash",
)


@dataclass(frozen=True)
class ChainReport:
    entries: int
    ok: bool
    first_bad_seq: int | None = None


def verify_chain(session: Session, tenant_id: int | None) -> ChainReport:
    """Recompute every hash of a tenant's chain; report the first entry that does not match."""
    rows = session.execute(
        select(AuditEntry).where(AuditEntry.chain == _chain(tenant_id)).order_by(AuditEntry.seq)
    ).scalars()
    prev, count = GENESIS, 0
    for entry in rows:
        count += 1
        data = {k: getattr(entry, k) for k in _HASHED}
        if entry.prev_hash != prev or entry_hash(data) != entry.hash or entry.seq != count:
            return ChainReport(count, False, entry.seq)
        prev = entry.hash
    return ChainReport(count, True)


def _chain(tenant_id: int | None) -> str:
    return "platform" if tenant_id is None else f"t:{tenant_id}"
