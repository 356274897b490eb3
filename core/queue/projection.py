"""ETA re-projection after commit: one coalescing job per department, no lost update.

A queue change (issue, call, start, finish, …) writes its token row and event and returns;
``defer_refresh`` leaves a request in the session (``session.info``) instead of re-projecting
inside the transaction. After the commit the projector of the composition root
(``workers.projector``) runs the requests, in the committing thread or on a background thread
that merges a burst of changes into one projection per department.

No lost update, across threads and processes: after each committed change the department's
``queue_projections.dirty_seq`` is bumped (its own short transaction, so the bump commits after
the change). A projection takes the department's lock (PostgreSQL: a transaction advisory lock;
SQLite: the writer lock), reads ``dirty_seq`` and only then reads the line, and records what it
read as ``projected_seq``. A job whose bump is already covered (``projected_seq >= its seq``)
does nothing; otherwise it projects. So the last projection always read the line after the
last bump, hence after the last committed change.

A session without a projector (``db.engine.AFTER_COMMIT`` absent: tests joining an outer
transaction, scripts) re-projects inline, as before.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, bindparam, text, update
from sqlalchemy.orm import Session

from core.queue.eta_projection import Refresh, refresh_etas
from core.queue.line import Line
from core.queue.place import QueuePlace, queue_place
from db.engine import AFTER_COMMIT
from db.models.queue import QueueProjection

PENDING = "qlink.queue_projections"
LOCK_CLASS = 7714  # advisory lock namespace of queue projections (objid: the department id)

_BUMP = text(
    "INSERT INTO queue_projections (tenant_id, department_id, dirty_seq, projected_seq) "
    "VALUES (:t, :d, 1, 0) ON CONFLICT (tenant_id, department_id) "
    "DO UPDATE SET dirty_seq = queue_projections.dirty_seq + 1 RETURNING dirty_seq"
)
_LOCK = text("SELECT pg_advisory_xact_lock(:cls, :d)")
_TRY_LOCK = text("SELECT pg_try_advisory_xact_lock(:cls, :d)")
_READ = text(
    "SELECT dirty_seq, projected_seq FROM queue_projections WHERE tenant_id = :t "
    "AND department_id = :d"
)
_TABLE = cast(Table, QueueProjection.__table__)
_DONE = (
    update(_TABLE)
    .where(
        _TABLE.c.tenant_id == bindparam("t"),
        _TABLE.c.department_id == bindparam("d"),
        _TABLE.c.projected_seq < bindparam("seq"),
    )
    .values(
        projected_seq=bindparam("seq"),
        projected_at=bindparam("now", type_=_TABLE.c.projected_at.type),
        eta_bias=bindparam("bias"),
        eta_early=bindparam("early"),
        eta_late=bindparam("late"),
        line_tails=bindparam("tails", type_=_TABLE.c.line_tails.type),
    )
)


@dataclass(frozen=True)
class Pending:
    """A department whose ETAs a committed change made stale."""

    tenant_id: int
    department_id: int
    now: dt.datetime
    include: int | None = None


def defer_refresh(
    session: Session,
    tenant_id: int,
    place: QueuePlace,
    now: dt.datetime,
    *,
    include: int | None = None,
    line: Line | None = None,
) -> Refresh | None:
    """Ask for the department's re-projection after commit (inline without a projector)."""
    if not session.info.get(AFTER_COMMIT):
        return refresh_etas(session, tenant_id, place, now, include=include, line=line)
    pending: dict[tuple[int, int], Pending] = session.info.setdefault(PENDING, {})
    key = (tenant_id, place.department_id)
    pending[key] = merged(pending.get(key), Pending(tenant_id, place.department_id, now, include))
    return None


def merged(earlier: Pending | None, later: Pending) -> Pending:
    """One request for two changes of a department: the later one, keeping a doctor to include.

    ``include`` names a doctor acting now who may not be rostered (a resume, then the call it
    was for): the projection must still count them, whichever change came last.
    """
    if earlier is None or later.include is not None or earlier.include is None:
        return later
    return Pending(later.tenant_id, later.department_id, later.now, earlier.include)


def pending_projections(info: Mapping[str, Any]) -> list[Pending]:
    """The projections a committed transaction asked for (from its session's ``info``)."""
    found: dict[tuple[int, int], Pending] = info.get(PENDING) or {}
    return [found[key] for key in sorted(found)]


def mark_dirty(session: Session, tenant_id: int, department_id: int) -> int:
    """Bump the department's change sequence (after the change committed); return it."""
    params = {"t": tenant_id, "d": department_id}
    return int(session.connection().execute(_BUMP, params).scalar_one())


@dataclass(frozen=True)
class ProjectionRun:
    """What one projection job did: ``current`` (already covered), ``projected``, or ``busy``
    (``wait=False`` and another transaction is projecting the department: ask again later)."""

    status: str
    seq: int
    refresh: Refresh | None = None


def project_department(
    session: Session,
    tenant_id: int,
    department_id: int,
    now: dt.datetime,
    *,
    seq: int = 0,
    include: int | None = None,
    wait: bool = True,
) -> ProjectionRun:
    """Re-project the department unless a projection already covers change ``seq``.

    Takes the department's projection lock until commit (advisory on PostgreSQL, the writer
    lock on SQLite), then reads the sequence before the line (see the module docstring). With
    ``wait=False`` (PostgreSQL) a department another process is projecting right now is left
    (``busy``): that projection, or the caller's next try, covers the change; processes then
    take turns instead of each projecting the same burst.
    """
    connection = session.connection()
    params = {"t": tenant_id, "d": department_id}
    if connection.dialect.name == "postgresql":
        lock = {"cls": LOCK_CLASS, "d": department_id}
        if wait:
            connection.execute(_LOCK, lock)
        elif not connection.execute(_TRY_LOCK, lock).scalar():
            return ProjectionRun("busy", seq)
    row = connection.execute(_READ, params).first()
    dirty, projected = (0, 0) if row is None else (int(row[0]), int(row[1]))
    if row is not None and projected >= (seq or dirty):
        return ProjectionRun("current", projected)
    place = queue_place(session, tenant_id, department_id)
    refresh = refresh_etas(session, tenant_id, place, now, include=include)
    if row is not None:
        learned = refresh.calibration  # kept for the read-only projection at issue
        done = {"seq": dirty, "now": now, "bias": learned.bias}
        done.update(early=learned.band.early, late=learned.band.late)
        done["tails"] = refresh.tails.as_json() if refresh.tails is not None else None
        connection.execute(_DONE, {**params, **done})
    return ProjectionRun("projected", dirty, refresh)
