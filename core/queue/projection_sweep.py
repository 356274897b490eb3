"""Find the departments whose ETA re-projection was lost (``core.queue.projection``).

A queue change commits, then its process bumps ``queue_projections.dirty_seq`` and projects the
department. If the process dies between the commit and the projection (or the projection
raised), the stored ETAs stay stale until the department's next change. ``stale_departments``
finds them for a periodic sweep (``workers.ticker``) that re-projects each.

A department is stale when its latest change is not covered by its last projection and nothing
touched it for ``grace`` (so a projector that is merely behind is left to finish):

* ``dirty_seq > projected_seq``: the bump committed, the projection never finished; or
* its latest queue event is newer than ``projected_at``: the change committed, the bump never
  happened (``projected_at`` is the ``now`` of the change a projection ran for).

"Touched" is the latest queue event's ``created_at`` (the bump follows the event), or
``projected_at`` for a department without events. Only departments with a ``queue_projections``
row are considered: one never projected is projected on its first change.

The latest event of a department is one backward scan of the branch's event stream (index
``(tenant_id, branch_id, id)``), stopped at the department's first row or at the first row older
than ``horizon`` (a day: a change older than that belongs to a service day that is over), so
``queue_events`` needs no ``created_at`` or department index. Its cost is the branch's events
since the department's last one, at most a day's. (It relies on event ids growing with
``created_at`` within a branch, as they do: both are taken as the change commits.)

``projected_at`` is the ``now`` of a change, not when the projection read the line, so one
narrow case is missed: a change that took its ``now`` before another change, committed after
that change's projection read the line, and whose process then died before its bump. A change
whose projection covered a later change too (a projection that read the line after a
second change committed) records the earlier ``now``: such a department is re-projected once
more after ``grace``, which is harmless (a projection is idempotent).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from db.base import UTCDateTime

HORIZON = dt.timedelta(days=1)  # how far back a lost change is looked for

_ROWS = (
    text(
        "SELECT p.tenant_id, p.department_id, p.dirty_seq, p.projected_seq, p.projected_at, "
        "(SELECT CASE WHEN e.department_id = p.department_id THEN e.created_at END "
        "FROM queue_events e WHERE e.tenant_id = p.tenant_id AND e.branch_id = d.branch_id "
        "AND (e.department_id = p.department_id OR e.created_at < :horizon) "
        "ORDER BY e.id DESC LIMIT 1) AS changed_at "
        "FROM queue_projections p JOIN departments d "
        "ON d.tenant_id = p.tenant_id AND d.id = p.department_id "
        "ORDER BY p.tenant_id, p.department_id"
    )
    .bindparams(bindparam("horizon", type_=UTCDateTime()))
    .columns(projected_at=UTCDateTime(), changed_at=UTCDateTime())
)


@dataclass(frozen=True)
class StaleDepartment:
    """A department whose stored ETAs no projection covers: re-project it."""

    tenant_id: int
    department_id: int
    reason: str  # "unfinished" (bumped, never projected) or "unbumped" (changed, never bumped)


def stale_departments(
    session: Session,
    now: dt.datetime,
    *,
    grace: dt.timedelta,
    horizon: dt.timedelta = HORIZON,
) -> list[StaleDepartment]:
    """Every clinic's departments whose last change no projection covers, untouched for
    ``grace`` (read-only; the caller's session must see all tenants).

    Changes older than ``horizon`` are not looked for (their service day is over).
    """
    cutoff = now - grace
    found = []
    rows = session.execute(_ROWS, {"horizon": now - horizon})
    for tenant_id, department_id, dirty, projected, projected_at, changed_at in rows:
        touched = changed_at or projected_at
        if touched is not None and touched > cutoff:
            continue
        if dirty > projected:
            reason = "unfinished"
        elif changed_at is not None and (projected_at is None or changed_at > projected_at):
            reason = "unbumped"
        else:
            continue
        found.append(StaleDepartment(int(tenant_id), int(department_id), reason))
    return found
