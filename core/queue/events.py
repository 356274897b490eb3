"""Append-only queue events and outbox intents, each one lean Core INSERT."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
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
        "TokenSentToLab",
        "TokenReturnedFromLab",
        "LabResultsReady",  # core.clinical.lab: all of a consultation's tests have results
        "TokenExpired",
        "DoctorPaused",
        "DoctorResumed",
        "DelayAnnounced",
        "AnnouncementsChanged",  # core.signage.announcements: the screens reload the list
    }
)
NOW_SERVING = "whatsapp.now_serving"
NEAR_TURN = "whatsapp.near_turn"
ETA_SHIFT = "whatsapp.eta_shift"
DELAY = "whatsapp.delay"
RATING_REQUEST = "whatsapp.rating_request"  # after a finished visit, due some minutes later


_EVENT = insert(QueueEvent)  # built once; executed with parameters (one or many rows)
_INTENT = {  # keyed by "is PostgreSQL"
    True: postgresql.insert(OutboxMessage).on_conflict_do_nothing(
        index_elements=["tenant_id", "dedupe_key"]
    ),
    False: sqlite.insert(OutboxMessage).on_conflict_do_nothing(
        index_elements=["tenant_id", "dedupe_key"]
    ),
}


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
    session.connection().execute(
        _EVENT,
        {
            "tenant_id": tenant_id,
            "branch_id": branch_id,
            "department_id": department_id,
            "doctor_id": doctor_id,
            "token_id": token_id,
            "type": type,
            "actor_id": actor_id,
            "payload": payload,
            "created_at": at,
        },
    )


def append_events(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Append several queue events (full column mappings) in one statement."""
    if not rows:
        return
    unknown = {row["type"] for row in rows} - EVENT_TYPES
    if unknown:
        raise ValueError(f"Unknown queue event types {sorted(unknown)}")
    session.connection().execute(_EVENT, list(rows))


def enqueue_intent(
    session: Session,
    *,
    tenant_id: int,
    kind: str,
    payload: dict[str, Any],
    dedupe_key: str,
    at: dt.datetime,
    due: dt.datetime | None = None,
) -> None:
    """Write an outbox row once per ``dedupe_key``; a repeat is silently a no-op.

    ``due`` holds the row back until then (default: sendable at once, at ``at``).
    """
    row = {"kind": kind, "payload": payload, "dedupe_key": dedupe_key}
    enqueue_intents(session, tenant_id=tenant_id, rows=[row], at=at, due=due)


def enqueue_intents(
    session: Session,
    *,
    tenant_id: int,
    rows: Sequence[Mapping[str, Any]],
    at: dt.datetime,
    due: dt.datetime | None = None,
) -> None:
    """Write several intents (``kind``, ``payload``, ``dedupe_key``) in one statement."""
    if not rows:
        return
    values = [
        {
            "tenant_id": tenant_id,
            "kind": row["kind"],
            "payload": row["payload"],
            "dedupe_key": row["dedupe_key"],
            "status": "pending",
            "attempts": 0,
            "available_at": due or at,
            "created_at": at,
        }
        for row in sorted(rows, key=lambda r: str(r["dedupe_key"]))
    ]  # one key order for every writer, so two transactions never wait on each other in a cycle
    connection = session.connection()
    connection.execute(_INTENT[connection.dialect.name == "postgresql"], values)
