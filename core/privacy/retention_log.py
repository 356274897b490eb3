"""The message retention purge as the clinic sees it: the period, the last run, what it removed.

Read from the ``retention.purge`` entries the purge leaves in the clinic's audit log
(``core.messaging.retention``); one run is the batches of one day.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.auth.permissions import require
from core.context import Actor, tenant_of
from core.messaging import retention
from db.models import AuditEntry, Tenant

RUNS_SHOWN = 10


@dataclass(frozen=True)
class PurgeRun:
    """One day's purge: when its last batch ran, message bodies removed, the cutoff used."""

    day: dt.date
    last_batch_at: dt.datetime
    messages_removed: int
    cutoff: str


@dataclass(frozen=True)
class RetentionReport:
    days: int
    runs: tuple[PurgeRun, ...]  # newest first

    @property
    def last_run(self) -> PurgeRun | None:
        return self.runs[0] if self.runs else None


def retention_report(session: Session, actor: Actor) -> RetentionReport:
    """Return the clinic's retention period and its recent purge runs, newest first."""
    require(actor, "settings.write")
    tenant_id = tenant_of(session, actor)
    tenant = session.get(Tenant, tenant_id)
    entries = session.execute(
        select(AuditEntry.created_at, AuditEntry.detail)
        .where(AuditEntry.tenant_id == tenant_id, AuditEntry.action == retention.PURGE_ACTION)
        .order_by(AuditEntry.seq.desc())
        .limit(RUNS_SHOWN * 20)
    ).all()
    runs: dict[dt.date, PurgeRun] = {}
    for at, detail in entries:
        day = at.astimezone(dt.UTC).date()
        count = int((detail or {}).get("messages", 0))
        seen = runs.get(day)
        if seen is None:
            runs[day] = PurgeRun(day, at, count, str((detail or {}).get("cutoff", "")))
        else:
            runs[day] = PurgeRun(
                day, seen.last_batch_at, seen.messages_removed + count, seen.cutoff
            )
    days = retention.retention_days(tenant.settings if tenant else None)
    return RetentionReport(days, tuple(list(runs.values())[:RUNS_SHOWN]))
