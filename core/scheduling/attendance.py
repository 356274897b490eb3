"""Appointment statuses that follow the patient's visit, moved by core, never by hand.

An appointment is ``scheduled`` until its token is issued (check-in at the desk or over
WhatsApp: ``checked_in``), ``in_consultation`` when that token's consultation starts and
``completed`` when it finishes. At day end a ``scheduled`` appointment of a day that is over
becomes ``no_show``. Each move is a compare-and-set on the status it leaves, in the caller's
transaction, so a move replayed or raced changes nothing; these outcomes are what the no-show
model (``core.analytics.no_show``) learns from.

The functions are steps of commands (``issue_token``, the token lifecycle, the day-end expiry)
that have already loaded the token or appointment through their access checks.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from db.models import Appointment

BATCH = 500

# The status each visit step moves an appointment to, and the ones it may move from.
_MOVES: dict[str, tuple[tuple[str, ...], str]] = {
    "checked_in": (("scheduled",), "checked_in_at"),
    "in_consultation": (("scheduled", "checked_in"), "started_at"),
    "completed": (("scheduled", "checked_in", "in_consultation"), "completed_at"),
}


def follow_visit(
    session: Session, tenant_id: int, appointment_id: int, target: str, now: dt.datetime
) -> bool:
    """Move the appointment to ``target`` if it has not gone past it; True when it moved."""
    sources, stamp = _MOVES[target]
    result = session.execute(
        update(Appointment)
        .where(
            Appointment.tenant_id == tenant_id,
            Appointment.id == appointment_id,
            Appointment.status.in_(sources),
        )
        .values(status=target, updated_at=now, **{stamp: now})
        .execution_options(synchronize_session=False)
    )
    return cast(CursorResult[Any], result).rowcount == 1


def mark_no_shows(
    session: Session, tenant_id: int, branch_id: int, today: dt.date, now: dt.datetime
) -> int:
    """Mark the branch's appointments of past days never checked in as ``no_show``, in batches.

    Row locks: each batch's appointments (``SKIP LOCKED`` on PostgreSQL, so a concurrent run
    takes other rows); the ``WHERE status = 'scheduled'`` repeat makes a replay change nothing.
    """
    total = 0
    while True:
        batch = (
            select(Appointment.id)
            .where(
                Appointment.tenant_id == tenant_id,
                Appointment.branch_id == branch_id,
                Appointment.service_date < today,
                Appointment.status == "scheduled",
            )
            .order_by(Appointment.id)
            .limit(BATCH)
            .with_for_update(skip_locked=True)
        )
        result = session.execute(
            update(Appointment)
            .where(
                Appointment.tenant_id == tenant_id,
                Appointment.id.in_(batch),
                Appointment.status == "scheduled",
            )
            .values(status="no_show", updated_at=now)
            .execution_options(synchronize_session=False)
        )
        moved = cast(CursorResult[Any], result).rowcount
        if not moved:
            return total
        total += moved
