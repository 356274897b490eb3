"""Reading the queue-event stream in an order that never skips a committed event.

Event ids come from one sequence, but on PostgreSQL concurrent transactions commit out of id
order: id 101 can be visible while id 100 is still in flight, so a reader that remembers only
"the last id I sent" and asks for ``id > last`` would skip 100 for ever. ``Horizon`` therefore
advances through the *global* id sequence only while it is contiguous; a gap is waited for, and
given up on after ``gap_timeout`` seconds (a rolled-back transaction leaves a permanent hole).
Ids given up on are remembered for a while so an event that commits later still reaches the
screens (as a late event). On SQLite writers are serialised and ids commit in order, so gaps are
permanent at once (``gap_timeout=0``).

The global scan reads only ids, tenants and branches, under the platform scope; each branch's
events are then read inside that tenant's scope.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import QueueEvent, QueueToken
from db.models.queue import ACTIVE_TOKEN_STATUSES

SCAN_LIMIT = 2000
LATE_MEMORY_SECONDS = 120.0
LATE_MAX_IDS = 5000


@dataclass(frozen=True)
class Mark:
    """Where an event belongs, without its content."""

    id: int
    tenant_id: int
    branch_id: int


@dataclass(frozen=True)
class EventRow:
    """A committed queue event."""

    id: int
    tenant_id: int
    branch_id: int
    department_id: int | None
    doctor_id: int | None
    token_id: int | None
    type: str
    payload: dict[str, Any]
    created_at: dt.datetime


def stream_head(session: Session) -> int:
    """Return the largest committed event id (0 when there are none); platform scope."""
    return int(session.scalar(select(func.max(QueueEvent.id))) or 0)


def marks_after(session: Session, after: int, limit: int = SCAN_LIMIT) -> list[Mark]:
    """Return committed events with ids above ``after`` in id order; platform scope."""
    rows = session.execute(
        select(QueueEvent.id, QueueEvent.tenant_id, QueueEvent.branch_id)
        .where(QueueEvent.id > after)
        .order_by(QueueEvent.id)
        .limit(limit)
    )
    return [Mark(*row) for row in rows]


def marks_of(session: Session, ids: Iterable[int]) -> list[Mark]:
    """Return the committed events among ``ids``; platform scope."""
    wanted = sorted(ids)
    if not wanted:
        return []
    rows = session.execute(
        select(QueueEvent.id, QueueEvent.tenant_id, QueueEvent.branch_id)
        .where(QueueEvent.id.in_(wanted))
        .order_by(QueueEvent.id)
    )
    return [Mark(*row) for row in rows]


def branch_events(
    session: Session,
    tenant_id: int,
    branch_id: int,
    *,
    after: int,
    upto: int | None = None,
    limit: int | None = None,
) -> list[EventRow]:
    """Return one branch's events with ``after < id <= upto`` in id order."""
    query = select(*_COLUMNS).where(
        QueueEvent.tenant_id == tenant_id,
        QueueEvent.branch_id == branch_id,
        QueueEvent.id > after,
    )
    if upto is not None:
        query = query.where(QueueEvent.id <= upto)
    query = query.order_by(QueueEvent.id)
    if limit is not None:
        query = query.limit(limit)
    return [EventRow(*row) for row in session.execute(query)]


def events_by_id(
    session: Session, tenant_id: int, branch_id: int, ids: Sequence[int]
) -> list[EventRow]:
    """Return the branch's events among ``ids`` in id order."""
    if not ids:
        return []
    query = select(*_COLUMNS).where(
        QueueEvent.tenant_id == tenant_id,
        QueueEvent.branch_id == branch_id,
        QueueEvent.id.in_(list(ids)),
    )
    return [EventRow(*row) for row in session.execute(query.order_by(QueueEvent.id))]


_COLUMNS = (
    QueueEvent.id,
    QueueEvent.tenant_id,
    QueueEvent.branch_id,
    QueueEvent.department_id,
    QueueEvent.doctor_id,
    QueueEvent.token_id,
    QueueEvent.type,
    QueueEvent.payload,
    QueueEvent.created_at,
)


@dataclass
class Horizon:
    """The highest event id below which every event that will ever commit has committed."""

    position: int
    gap_timeout: float
    _gap_since: float | None = None
    late: dict[int, float] = field(default_factory=dict)

    def advance(self, visible: Sequence[int], now: float) -> list[int]:
        """Move over ``visible`` ids (sorted, all above ``position``); return those passed.

        Stops at the first missing id until it has been missing for ``gap_timeout`` seconds.
        """
        passed: list[int] = []
        for event_id in visible:
            if event_id <= self.position:
                continue
            if event_id != self.position + 1 and not self._gap_expired(now):
                break
            if event_id != self.position + 1:
                self._remember_skipped(range(self.position + 1, event_id), now)
            self.position = event_id
            self._gap_since = None
            passed.append(event_id)
        return passed

    @property
    def waiting_on_gap(self) -> bool:
        return self._gap_since is not None

    def found_late(self, ids: Iterable[int]) -> None:
        """Forget skipped ids whose events have now been seen."""
        for event_id in ids:
            self.late.pop(event_id, None)

    def expire_late(self, now: float) -> None:
        """Stop watching for skipped ids older than ``LATE_MEMORY_SECONDS``."""
        for event_id, since in list(self.late.items()):
            if now - since > LATE_MEMORY_SECONDS:
                del self.late[event_id]

    def _gap_expired(self, now: float) -> bool:
        if self._gap_since is None:
            self._gap_since = now
        return now - self._gap_since >= self.gap_timeout

    def _remember_skipped(self, ids: range, now: float) -> None:
        if self.gap_timeout <= 0 or len(self.late) + len(ids) > LATE_MAX_IDS:
            return  # SQLite never fills a gap; a huge jump is a sequence reset, not a race
        for event_id in ids:
            self.late[event_id] = now


def queue_depth(session: Session, since: dt.date) -> dict[str, int]:
    """Count active tokens by status on service days from ``since`` on; platform scope."""
    rows = session.execute(
        select(QueueToken.status, func.count())
        .where(
            QueueToken.service_date >= since,
            QueueToken.status.in_(ACTIVE_TOKEN_STATUSES),
        )
        .group_by(QueueToken.status)
    ).all()
    return {status: int(count) for status, count in rows}
