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
from db.staging import stage

GENESIS = "0" * 64
STAGE = "audit"  # db.staging: entries are chained as the transaction's last statements
# Take ``count`` sequence numbers off a chain's head (creating it at GENESIS): the head row stays
# locked until commit, so a tenant's entries are strictly ordered and never interleave.
_ADVANCE = text(
    "INSERT INTO audit_chain_heads (chain, last_seq, last_hash) VALUES (:c, :k, :g) "
    "ON CONFLICT (chain) DO UPDATE SET last_seq = audit_chain_heads.last_seq + :k "
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
) -> None:
    """Audit ``actor`` doing ``action``: the entry is chained just before the transaction commits.

    Staged on the session (``db.staging``), so the chain head's row lock, which every
    transaction of the tenant queues on, is held only for the append and the commit, not for
    the rest of the transaction. A SAVEPOINT that rolls back drops its entries; reading the
    audit log in the same transaction chains the staged entries first. ``created_at`` is the
    time of the action. Keep PHI out of ``detail``: ids and field names, not values.
    """
    row = {
        "tenant_id": actor.tenant_id,
        "chain": _chain(actor.tenant_id),
        "actor_id": actor.user_id,
        "actor_label": actor.label,
        "action": action,
        "entity": entity,
        "entity_id": None if entity_id is None else str(entity_id),
        "detail": dict(detail or {}),
        "created_at": actor.clock(),
    }
    stage(session, STAGE, row, run=_append, order=100, reads=_TABLES)


_TABLES = frozenset({"audit_log", "audit_chain_heads"})


def _append(session: Session, rows: list[dict[str, Any]]) -> None:
    """Chain the staged rows, chain by chain in a fixed order (no lock-order deadlock)."""
    chains: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        chains.setdefault(row["chain"], []).append(row)
    for chain in sorted(chains):
        batch = chains[chain]
        last, prev = session.execute(_ADVANCE, {"c": chain, "k": len(batch), "g": GENESIS}).one()
        entries = []
        for seq, row in enumerate(batch, start=int(last) - len(batch) + 1):
            entry = {**row, "seq": seq, "prev_hash": prev}
            entry["hash"] = prev = entry_hash(entry)
            entries.append(entry)
        session.execute(insert(AuditEntry), entries)
        session.execute(_SET_HASH, {"h": prev, "c": chain})


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
