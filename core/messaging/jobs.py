"""Periodic jobs claimed in the database: each ``(job, slot)`` runs once across processes.

The embedded service has no Redis to ``SET NX``; the ``job_claims`` primary key does the same
job: the first insert of a slot wins, every later one inserts nothing.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from sqlalchemy import CursorResult, delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from db.models.messaging import JobClaim

CLAIM_MEMORY = dt.timedelta(days=2)
_CLAIM = {  # keyed by "is PostgreSQL"
    dialect: module.insert(JobClaim)
    .on_conflict_do_nothing(index_elements=["job", "slot"])
    .returning(JobClaim.slot)
    for dialect, module in ((True, postgresql), (False, sqlite))
}


def claim_slot(session: Session, *, job: str, slot: int, now: dt.datetime) -> bool:
    """Claim ``slot`` of ``job``; return whether this caller won it (it runs the job)."""
    is_pg = session.get_bind().dialect.name == "postgresql"
    won = session.connection().execute(_CLAIM[is_pg], {"job": job, "slot": slot, "claimed_at": now})
    return won.first() is not None  # RETURNING: a row only when this insert happened


def prune_claims(session: Session, *, now: dt.datetime) -> int:
    """Delete claims older than two days (a slot that old is never claimed again)."""
    result = session.execute(
        delete(JobClaim)
        .where(JobClaim.claimed_at < now - CLAIM_MEMORY)
        .execution_options(synchronize_session=False)
    )
    return cast(CursorResult[Any], result).rowcount
