"""What the day's threads observe, and how each of them runs one core command.

Every issuing thread and every doctor writes into one ``DayLog`` under its lock: tokens
acknowledged at issue (with the EWT given), latencies, calls per tenant, and each command
counted, or its domain error counted, so the checks can read the day back afterwards.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from core.clock import FrozenClock
from core.context import Actor
from core.errors import DomainError
from db.engine import Database
from qlink.simulation.scenario import Clinic


@dataclass
class Issued:
    """A token the issuing thread saw created, with the EWT it was given at issue."""

    tenant_id: int
    token_id: int
    kind: str
    issued_at: dt.datetime
    eta: dt.datetime | None
    eta_low: dt.datetime | None = None  # the 80 % range given at issue
    eta_high: dt.datetime | None = None


@dataclass
class DayLog:
    """What the threads observed (guarded by a lock)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    issued: list[Issued] = field(default_factory=list)
    issue_ms: list[float] = field(default_factory=list)
    call_ms: list[float] = field(default_factory=list)
    repeats: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    calls_by_tenant: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))
    counts: Counter[str] = field(default_factory=Counter)


def run_command(
    database: Database,
    clinic: Clinic,
    now: dt.datetime,
    log: DayLog,
    what: str,
    command: Callable[[Any, Actor], Any],
) -> Any:
    """Run one core command in its own transaction; count it, or count its error."""
    actor = Actor.system(clinic.tenant_id, clock=FrozenClock(now))
    try:
        with database.transaction(clinic.tenant_id) as session:
            result = command(session, actor)
    except DomainError as exc:
        with log.lock:
            log.errors[f"{what}: {type(exc).__name__}: {exc}"] += 1
        return None
    with log.lock:
        log.counts[what] += 1
    return result
