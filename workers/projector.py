"""Run the queue's ETA re-projections after commit (``core.queue.projection``).

``Projector`` is the ``Database.after_commit`` hook of a process that changes queues (the
service, the Streamlit apps, the bench, the simulator, the workers). Per committed transaction
it takes the departments the transaction made stale; ``background=True`` merges them into a
pending set that a thread drains, so a burst of changes to a department becomes one
re-projection; ``background=False`` projects at once in the committing thread (after commit,
so no queue lock is held while it runs).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from core.queue.projection import (
    Pending,
    ProjectionRun,
    mark_dirty,
    merged,
    pending_projections,
    project_department,
)
from db.engine import ALL_TENANTS, Database

log = logging.getLogger("qlink.projector")
RETRY = 0.05  # seconds before a department another process was projecting is tried again


@dataclass
class ProjectorStats:
    """Counters for tests and benches: jobs asked for, projections run, latency seen."""

    requested: int = 0
    projected: int = 0
    current: int = 0
    busy: int = 0  # tries left for later: another process was projecting the department
    latencies: list[float] = field(default_factory=list)  # commit → stored, seconds


class Projector:
    def __init__(self, database: Database, *, background: bool = True) -> None:
        self._db = database
        self.background = background
        self.stats = ProjectorStats()
        # per department: the request, its oldest commit (monotonic) and, once bumped, the
        # change sequence its projection must cover (None: a change not yet bumped)
        self._pending: dict[tuple[int, int], tuple[Pending, float, int | None]] = {}
        self._guard = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._thread: threading.Thread | None = None

    def install(self) -> Projector:
        """Become the database's after-commit hook (and start the thread if background)."""
        self._db.after_commit = self
        if self.background:
            self.start()
        return self

    def uninstall(self) -> None:
        if self._db.after_commit is self:
            self._db.after_commit = None
        self.stop()

    def __call__(self, database: Database, info: dict[str, Any]) -> None:
        jobs = pending_projections(info)
        if not jobs:
            return
        committed = time.monotonic()
        with self._guard:
            self.stats.requested += len(jobs)
            if self.background:
                for job in jobs:
                    key = (job.tenant_id, job.department_id)
                    earlier = self._pending.get(key)
                    if earlier is None:
                        self._pending[key] = (job, committed, None)
                    else:  # the latency is counted from the oldest change still waiting
                        self._pending[key] = (merged(earlier[0], job), earlier[1], None)
                self._idle.clear()
        if self.background:
            self._wake.set()
            return
        for job in jobs:
            self._run(job, committed)

    def drain(self, *, wait: bool = True) -> int:
        """Run every pending job now (one projection per department); return how many ran.

        With ``wait=False`` (the thread) a department another process is projecting right now
        stays pending, already bumped, and is tried again shortly (``RETRY``): by then that
        projection usually covers it, and the try is one read.
        """
        with self._guard:
            batch = list(self._pending.values())
            self._pending.clear()
        for job, committed, seq in batch:
            try:
                run = self._run(job, committed, seq, wait=wait)
            except Exception:  # the next change re-asks; the ticker's sweep repairs the rest
                log.exception("projection of department %s failed", job.department_id)
                continue
            if run.status == "busy":
                self._again(job, committed, run.seq)
        with self._guard:
            if not self._pending:
                self._idle.set()
        return len(batch)

    def _again(self, job: Pending, committed: float, seq: int) -> None:
        """Keep a busy department pending with its bump (a newer change needs its own)."""
        key = (job.tenant_id, job.department_id)
        with self._guard:
            newer = self._pending.get(key)
            if newer is None:
                self._pending[key] = (job, committed, seq)
            else:
                self._pending[key] = (merged(job, newer[0]), committed, None)
            self.stats.busy += 1

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until nothing is pending (tests, benches)."""
        return self._idle.wait(timeout)

    def _run(
        self, job: Pending, committed: float, seq: int | None = None, *, wait: bool = True
    ) -> ProjectionRun:
        run = reproject(
            self._db,
            job.tenant_id,
            job.department_id,
            job.now,
            include=job.include,
            seq=seq,
            wait=wait,
        )
        with self._guard:
            if run.status == "projected":
                self.stats.projected += 1
                self.stats.latencies.append(time.monotonic() - committed)
            elif run.status == "current":
                self.stats.current += 1
        return run

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="qlink-projector", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        self.drain()

    def _loop(self) -> None:
        while not self._stop.is_set():
            with self._guard:
                retry = bool(self._pending)  # left busy by the last drain
            self._wake.wait(RETRY if retry else 1.0)
            self._wake.clear()
            self.drain(wait=False)


def reproject(
    database: Database,
    tenant_id: int,
    department_id: int,
    now: dt.datetime,
    *,
    include: int | None = None,
    seq: int | None = None,
    wait: bool = True,
) -> ProjectionRun:
    """Bump the department's change sequence, then project it: two short transactions, the
    bump committed first (``core.queue.projection``). The projector's job after a commit and
    the ticker's repair of a lost one (``workers.ticker.repair_projections``). ``seq``: the
    bump was made already (a retry of a ``busy`` job); ``wait``: see ``project_department``."""
    if seq is None:
        with database.transaction(ALL_TENANTS) as session:
            seq = mark_dirty(session, tenant_id, department_id)
    with database.transaction(ALL_TENANTS) as session:
        return project_department(
            session, tenant_id, department_id, now, seq=seq, include=include, wait=wait
        )


def install_projector(database: Database, *, background: bool = True) -> Callable[[], None]:
    """Install a projector on ``database``; return the function that removes it."""
    projector = Projector(database, background=background).install()
    return projector.uninstall
