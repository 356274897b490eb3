"""Gap-free per-tenant counters: one atomic upsert-and-increment per number."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

_CREATE = text(
    "INSERT INTO sequences (tenant_id, name, last_value) VALUES (:t, :n, 0) "
    "ON CONFLICT (tenant_id, name) DO NOTHING"
)
_NEXT = text(
    "UPDATE sequences SET last_value = last_value + 1 "
    "WHERE tenant_id = :t AND name = :n RETURNING last_value"
)


def next_value(session: Session, tenant_id: int, name: str) -> int:
    """Return the next number of ``name`` for the tenant.

    The UPDATE takes the counter's row lock until the caller's transaction ends, so concurrent
    callers queue on it and a rolled-back caller leaves no gap.
    """
    params = {"t": tenant_id, "n": name}
    session.execute(_CREATE, params)
    return int(session.execute(_NEXT, params).scalar_one())


_RESERVE = text(
    "UPDATE sequences SET last_value = last_value + :k "
    "WHERE tenant_id = :t AND name = :n RETURNING last_value"
)


def reserve_values(session: Session, tenant_id: int, name: str, count: int) -> range:
    """Return ``count`` consecutive numbers of ``name`` taken with one counter update.

    Holds the counter's row lock like ``next_value``, so a concurrent caller's numbers come
    wholly before or wholly after this block.
    """
    if count < 1:
        return range(0)
    params = {"t": tenant_id, "n": name}
    session.execute(_CREATE, params)
    last = int(session.execute(_RESERVE, {**params, "k": count}).scalar_one())
    return range(last - count + 1, last + 1)
