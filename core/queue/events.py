"""Append-only queue events and outbox intents, each one lean Core INSERT."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from db.models import OutboxMessage, QueueEvent

EVENT_TYPES = frozenset(
    {
        "TokenIssued",
        "TokenCalled",
        "TokenStarted",
        "TokenFinished",
        "TokenMissed",
        "TokenRecalled",
        "TokenCancelled",
        "TokenTransferred",
    }
)
NOW_SERVING = "whatsapp.now_serving"


def append_event(
    session: Session,
    *,
    tenant_id: int,
    branch_id: int,
    department_id: int | None,
    doctor_id: int | None,
    token_id: int | None,
    type: str,
    actor_id: int | None,
    payload: dict[str, Any],
    at: dt.datetime,
) -> None:
    """Append one queue event (no ORM unit of work: a single INSERT)."""
    if type not in EVENT_TYPES:
        raise ValueError(f"Unknown queue event type {type!r}")
    session.execute(
        insert(QueueEvent).values(
            tenant_id=tenant_id,
            branch_id=branch_id,
            department_id=department_id,
            doctor_id=doctor_id,
            token_id=token_id,
            type=type,
            actor_id=actor_id,
            payload=payload,
            created_at=at,
        )
    )


def enqueue_intent(
    session: Session,
    *,
    tenant_id: int,
    kind: str,
    payload: dict[str, Any],
    dedupe_key: str,
    at: dt.datetime,
) -> None:
    """Write an outbox row once per ``dedupe_key``; a repeat is silently a no-op."""
    values = {
        "tenant_id": tenant_id,
        "kind": kind,
        "payload": payload,
        "dedupe_key": dedupe_key,
        "status": "pending",
        "attempts": 0,
        "available_at": at,
        "created_at": at,
    }
    if session.connection().dialect.name == "postgresql":
        stmt = postgresql.insert(OutboxMessage).values(**values)
        session.execute(stmt.on_conflict_do_nothing(index_elements=["tenant_id", "dedupe_key"]))
    else:
        lite = sqlite.insert(OutboxMessage).values(**values)
        session.execute(lite.on_conflict_do_nothing(index_elements=["tenant_id", "dedupe_key"]))
