"""Per-process fan-out of committed queue events to SSE screens.

One ``SignageService`` per process. Its tracker keeps a commit-safe ``Horizon`` over the global
event sequence, woken by PostgreSQL ``LISTEN qlink_queue_events`` (one connection per process)
or, on SQLite, by a short poll. For every branch with screens open it keeps one
``signage.hub.BranchHub`` and tells it how far the horizon has moved; it also sends the heartbeat
that keeps every open stream alive. Nothing lives only in memory: every process derives the same
stream from the database, so screens can reconnect to any process, and ``Last-Event-ID`` replays
from the table.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from core.clock import Clock, system_clock
from core.context import Actor
from core.signage import feed
from core.signage.branches import BranchRef
from db.engine import ALL_TENANTS, Database
from signage import sse
from signage.hub import BranchHub, Subscriber
from signage.metrics import StreamMetrics

log = logging.getLogger("qlink.signage")

CHANNEL = "qlink_queue_events"
HEARTBEAT_SECONDS = 15.0
DB_THREADS = 8
T = TypeVar("T")


class SignageService:
    """Owns the tracker, the LISTEN connection and the hubs of one process."""

    def __init__(
        self,
        database: Database,
        *,
        clock: Clock = system_clock,
        poll_seconds: float | None = None,
        gap_timeout: float | None = None,
        metrics: StreamMetrics | None = None,
    ) -> None:
        self.database = database
        self.clock = clock
        sqlite = database.dialect == "sqlite"
        self.poll_seconds = poll_seconds if poll_seconds is not None else (0.1 if sqlite else 2.0)
        self.gap_timeout = gap_timeout if gap_timeout is not None else (0.0 if sqlite else 1.5)
        self.metrics = metrics or StreamMetrics()
        self.hubs: dict[tuple[int, int], BranchHub] = {}
        self.horizon = feed.Horizon(0, self.gap_timeout)
        self.listening = False
        self.stopping = False
        self._wake: asyncio.Event | None = None
        self._scans_started = 0
        self._scans_done = 0
        self._scanned: asyncio.Condition | None = None
        self._tasks: list[asyncio.Task[None]] = []
        # Database reads run on the service's own threads, so stop() can wait for the ones
        # still running: a read cancelled on the loop goes on in its thread, and handing its
        # connection back after the owner disposed the pool leaks it.
        self._threads: ThreadPoolExecutor | None = None

    @contextlib.contextmanager
    def read(self, tenant_id: int) -> Any:
        """A read-only transaction in ``tenant_id``'s scope and the system actor for it."""
        with self.database.transaction(tenant_id, readonly=True) as session:
            yield session, Actor.system(tenant_id, clock=self.clock)

    async def off_loop(self, fn: Callable[..., T], *args: Any) -> T:
        """Run the blocking ``fn(*args)`` (a database read) on the service's threads."""
        if self._threads is None:
            self._threads = ThreadPoolExecutor(DB_THREADS, thread_name_prefix="signage-db")
        return await asyncio.get_running_loop().run_in_executor(self._threads, fn, *args)

    async def start(self) -> None:
        self._wake = asyncio.Event()
        self._scanned = asyncio.Condition()
        self.horizon = feed.Horizon(await self.off_loop(self._head), self.gap_timeout)
        self._tasks.append(asyncio.create_task(self._track(), name="signage-tracker"))
        self._tasks.append(asyncio.create_task(self._heartbeat(), name="signage-heartbeat"))
        if self.database.dialect == "postgresql":
            self._tasks.append(asyncio.create_task(self._listen(), name="signage-listener"))

    async def stop(self) -> None:
        """End every stream (so the server can shut down) and stop the background tasks."""
        self.stopping = True
        for hub in list(self.hubs.values()):
            for sub in list(hub.subscribers):
                sub.push(None)
            hub.task.cancel()
        for task in self._tasks:
            task.cancel()
        for task in [*self._tasks, *(h.task for h in self.hubs.values())]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.hubs.clear()
        self._tasks.clear()
        threads, self._threads = self._threads, None
        if threads is not None:
            await asyncio.to_thread(threads.shutdown, wait=True, cancel_futures=True)

    def end_streams(self) -> None:
        """Close every open stream now (called when the server starts shutting down)."""
        self.stopping = True
        for hub in self.hubs.values():
            for sub in list(hub.subscribers):
                sub.push(None)

    async def catch_up(self, timeout: float = 2.0) -> None:
        """Wait for a scan that starts now, so a new screen's snapshot includes what committed
        before it connected (concurrent connects share the same scan)."""
        if self._scanned is None:
            return
        wanted = self._scans_started + 1
        self.nudge()
        async with self._scanned:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._scanned.wait_for(lambda: self._scans_done >= wanted), timeout
                )

    def nudge(self) -> None:
        """Wake the tracker now (a commit in this process, or a test)."""
        if self._wake is not None:
            self._wake.set()

    async def subscribe(
        self,
        branch: BranchRef,
        sub: Subscriber,
        last_event_id: int | None,
        *,
        snapshot: bool = True,
    ) -> BranchHub:
        """Attach ``sub`` to the branch's hub (creating it); the caller must ``unsubscribe``."""
        if self.stopping:
            raise RuntimeError("shutting down")
        await self.catch_up()
        key = (branch.tenant_id, branch.branch_id)
        hub = self.hubs.get(key)
        if hub is None:
            hub = self.hubs[key] = BranchHub(self, branch, self.horizon.position)
        await hub.attach(sub, last_event_id, snapshot=snapshot)
        self.metrics.streams_opened()
        return hub

    def unsubscribe(self, hub: BranchHub, sub: Subscriber) -> None:
        sub.closed = True
        hub.detach(sub)
        self.metrics.streams_closed()

    async def _heartbeat(self) -> None:
        """Keep proxies and TVs from timing the streams out; lets pages spot a dead link."""
        while not self.stopping:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            data = sse.ping(self.clock())
            for hub in list(self.hubs.values()):
                for sub in list(hub.subscribers):
                    sub.push(data)

    def _head(self) -> int:
        with self.database.transaction(ALL_TENANTS, readonly=True) as session:
            return feed.stream_head(session)

    async def _track(self) -> None:
        assert self._wake is not None
        while not self.stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval())
            self._wake.clear()
            self._scans_started += 1
            number = self._scans_started
            try:
                full = await self._scan()
            except Exception as exc:  # database restarting: keep the screens, retry soon
                log.warning("signage tracker: %s", exc)
                await asyncio.sleep(1.0)
                continue
            finally:
                await self._scan_finished(number)
            if full:
                self._wake.set()
            self._retire_idle_hubs()

    async def _scan_finished(self, number: int) -> None:
        assert self._scanned is not None
        async with self._scanned:
            self._scans_done = number
            self._scanned.notify_all()

    def _interval(self) -> float:
        if self.horizon.waiting_on_gap:
            return 0.1
        if self.database.dialect == "postgresql" and not self.listening:
            return 0.25
        return self.poll_seconds

    async def _scan(self) -> bool:
        """Advance the horizon and tell each hub; True when the scan hit its row limit."""
        late_ids = list(self.horizon.late)
        marks, late = await self.off_loop(self._marks, self.horizon.position, late_ids)
        passed = set(self.horizon.advance([m.id for m in marks], time.monotonic()))
        touched = {(m.tenant_id, m.branch_id) for m in marks if m.id in passed}
        self.horizon.found_late(m.id for m in late)
        self.horizon.expire_late(time.monotonic())
        late_by_branch: dict[tuple[int, int], list[int]] = {}
        for mark in late:
            late_by_branch.setdefault((mark.tenant_id, mark.branch_id), []).append(mark.id)
        for key, hub in list(self.hubs.items()):
            hub.advance(self.horizon.position, key in touched, late_by_branch.get(key, ()))
        self.metrics.horizon_moved(self.horizon.position)
        return len(marks) >= feed.SCAN_LIMIT and bool(passed)

    def _marks(self, after: int, late: list[int]) -> tuple[list[feed.Mark], list[feed.Mark]]:
        with self.database.transaction(ALL_TENANTS, readonly=True) as session:
            return feed.marks_after(session, after), feed.marks_of(session, late)

    def _retire_idle_hubs(self) -> None:
        for key, hub in list(self.hubs.items()):
            if hub.idle:
                hub.task.cancel()
                del self.hubs[key]

    async def _listen(self) -> None:
        """Hold one LISTEN connection; any notification wakes the tracker."""
        import psycopg

        url = self.database.engine.url.set(drivername="postgresql")
        conninfo = url.render_as_string(hide_password=False)
        backoff = 0.5
        while not self.stopping:
            try:
                async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self.listening, backoff = True, 0.5
                    self.nudge()  # whatever committed while we were not listening
                    async for _ in conn.notifies():
                        self.nudge()
            except (psycopg.Error, OSError) as exc:
                log.warning("signage listener: %s; retrying in %.1fs", exc, backoff)
            finally:
                self.listening = False
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 10.0)
