"""Per-process fan-out of committed queue events to SSE screens.

One ``SignageService`` per process. Its tracker keeps a commit-safe ``Horizon`` over the global
event sequence, woken by PostgreSQL ``LISTEN qlink_queue_events`` (one connection per process)
or, on SQLite, by a short poll. For every branch with screens open there is one ``BranchHub``:
it reads that branch's new events once per wake-up, renders them once (``core.signage.deltas``)
and hands the encoded bytes to each screen's queue. A hub runs its jobs one at a time, so a
screen's snapshot and the updates after it are always produced in order. Nothing lives only in
memory: every process derives the same stream from the database, so screens can reconnect to
any process, and ``Last-Event-ID`` replays from the table.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable, Collection
from typing import Any

from core.clock import Clock, system_clock
from core.context import Actor
from core.signage import board as boards
from core.signage import feed
from core.signage.branches import BranchRef
from core.signage.deltas import Update, render_updates
from db.engine import ALL_TENANTS, Database
from signage import sse
from signage.metrics import StreamMetrics

log = logging.getLogger("qlink.signage")

CHANNEL = "qlink_queue_events"
MAX_REPLAY = 300
QUEUE_LIMIT = 500
SNAPSHOT_REUSE_SECONDS = 3.0
HUB_IDLE_SECONDS = 30.0
HEARTBEAT_SECONDS = 15.0


class Subscriber:
    """One open stream: a bounded queue of encoded messages (None ends the stream)."""

    def __init__(
        self, department_ids: frozenset[int] | None = None, codes: tuple[str, ...] = ()
    ) -> None:
        self.department_ids = department_ids
        self.codes = codes
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.closed = False

    def push(self, data: bytes | None) -> None:
        if self.closed:
            return
        if data is not None and self.queue.qsize() >= QUEUE_LIMIT:
            data = None  # a screen this far behind reconnects and resyncs instead
        if data is None:
            self.closed = True
        self.queue.put_nowait(data)

    def offer(self, update: Update, encoded: Callable[[frozenset[int] | None], bytes]) -> None:
        """Queue ``update`` if this screen shows any department it touches."""
        if self.department_ids is None or update.touches(self.department_ids):
            self.push(encoded(self.department_ids))


class TokenWatcher(Subscriber):
    """A patient's page: told (with the event id) when anything about its queue changed."""

    def __init__(self, token_id: int, department_id: int) -> None:
        super().__init__()
        self.token_id = token_id
        self.department_id = department_id

    def offer(self, update: Update, encoded: Callable[[frozenset[int] | None], bytes]) -> None:
        token = update.token.id if update.token else None
        if token == self.token_id or update.touches(frozenset({self.department_id})):
            self.push(str(update.id).encode())


class BranchHub:
    """The screens of one branch in this process, and the one reader that feeds them."""

    def __init__(self, service: SignageService, branch: BranchRef, cursor: int) -> None:
        self.service = service
        self.branch = branch
        self.cursor = cursor
        self.subscribers: set[Subscriber] = set()
        self._jobs: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
        self._behind = False
        self._snapshots: dict[frozenset[int] | None, tuple[int, float, bytes]] = {}
        self._idle_since: float | None = None
        self.task = asyncio.create_task(self._run(), name=f"signage-hub-{branch.qualified}")

    def advance(self, position: int, has_events: bool, late: Collection[int] = ()) -> None:
        self._jobs.put_nowait(("advance", position, has_events, tuple(late)))

    async def attach(self, sub: Subscriber, last_event_id: int | None, *, snapshot: bool) -> None:
        """Register ``sub``; queue its replay (after ``last_event_id``) and snapshot first."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._jobs.put_nowait(("attach", sub, last_event_id, snapshot, done))
        await done

    def detach(self, sub: Subscriber) -> None:
        self.subscribers.discard(sub)
        if not self.subscribers:
            self._idle_since = time.monotonic()

    @property
    def idle(self) -> bool:
        since = self._idle_since
        return (
            not self.subscribers
            and since is not None
            and (time.monotonic() - since > HUB_IDLE_SECONDS)
        )

    async def _run(self) -> None:
        while True:
            job = await self._jobs.get()
            try:
                if job[0] == "advance":
                    await self._advance(*job[1:])
                else:
                    await self._attach(*job[1:])
            except Exception:  # a failed read must not kill the branch's screens
                log.exception("signage hub %s: job failed", self.branch.qualified)
                if job[0] == "attach" and not job[-1].done():
                    job[-1].set_exception(RuntimeError("snapshot failed"))

    async def _advance(self, position: int, has_events: bool, late: tuple[int, ...]) -> None:
        if position <= self.cursor and not late:
            return
        if has_events or self._behind or late:
            try:
                updates = await asyncio.to_thread(self._read, self.cursor, position, late)
            except Exception:
                self._behind = True
                raise
            self._behind = False
            self._fan_out(updates)
        self.cursor = max(self.cursor, position)

    def _read(self, after: int, upto: int, late: tuple[int, ...]) -> list[tuple[Update, bool]]:
        with self.service.read(self.branch.tenant_id) as (session, actor):
            events = feed.branch_events(
                session, self.branch.tenant_id, self.branch.branch_id, after=after, upto=upto
            )
            stray = feed.events_by_id(session, self.branch.tenant_id, self.branch.branch_id, late)
            updates = render_updates(session, actor, self.branch, [*stray, *events])
        return [(u, u.id <= after) for u in updates]

    def _fan_out(self, updates: list[tuple[Update, bool]]) -> None:
        now = self.service.clock()
        for update, late in updates:
            self.service.metrics.event_lag((now - update.at).total_seconds())
            encoded = _Encoded(update, late)
            for sub in list(self.subscribers):
                sub.offer(update, encoded)

    async def _attach(
        self,
        sub: Subscriber,
        last_event_id: int | None,
        snapshot: bool,
        done: asyncio.Future[None],
    ) -> None:
        messages = await asyncio.to_thread(self._opening, sub, last_event_id, snapshot)
        for data in messages:
            sub.push(data)
        self.subscribers.add(sub)
        self._idle_since = None
        done.set_result(None)

    def _opening(self, sub: Subscriber, last_event_id: int | None, snapshot: bool) -> list[bytes]:
        """Replay what the screen missed (if it can be replayed), then the current board."""
        cursor = self.cursor
        out: list[bytes] = []
        with self.service.read(self.branch.tenant_id) as (session, actor):
            if last_event_id is not None and last_event_id < cursor:
                events = feed.branch_events(
                    session,
                    self.branch.tenant_id,
                    self.branch.branch_id,
                    after=last_event_id,
                    upto=cursor,
                    limit=MAX_REPLAY + 1,
                )
                if len(events) <= MAX_REPLAY:
                    for update in render_updates(
                        session, actor, self.branch, events, with_state=False
                    ):
                        if sub.department_ids is None or update.touches(sub.department_ids):
                            out.append(_encode_update(update, sub.department_ids, replay=True))
            if snapshot:
                out.append(self._snapshot(session, actor, sub, cursor))
        return out

    def _snapshot(self, session: Any, actor: Actor, sub: Subscriber, cursor: int) -> bytes:
        """The board at ``cursor``; reused briefly when many screens connect at once."""
        depts = sub.department_ids
        cached = self._snapshots.get(depts)
        now = time.monotonic()
        if cached and cached[0] == cursor and now - cached[1] < SNAPSHOT_REUSE_SECONDS:
            return cached[2]
        codes = sub.codes or None
        board = boards.branch_board(session, actor, self.branch, codes=codes, upto_event=cursor)
        data = sse.message(
            "snapshot",
            {"cursor": cursor, "server_time": self.service.clock(), "board": board},
            event_id=cursor,
        )
        self._snapshots[depts] = (cursor, now, data)
        return data


class _Encoded:
    """An update's bytes per department filter, encoded once however many screens share it."""

    def __init__(self, update: Update, late: bool) -> None:
        self.update = update
        self.late = late
        self.cache: dict[frozenset[int] | None, bytes] = {}

    def __call__(self, depts: frozenset[int] | None) -> bytes:
        if depts not in self.cache:
            self.cache[depts] = _encode_update(self.update, depts, late=self.late)
        return self.cache[depts]


def _encode_update(
    update: Update, depts: frozenset[int] | None, *, replay: bool = False, late: bool = False
) -> bytes:
    if depts is not None:
        update = dataclasses.replace(
            update,
            lanes=tuple(lane for lane in update.lanes if lane.department_id in depts),
            pools=tuple(pool for pool in update.pools if pool.department_id in depts),
        )
    body = {"update": update, "replay": replay, "late": late}
    # A late event (its id was given up on as a gap, then it committed) carries no id:
    # the browser's Last-Event-ID must not move backwards.
    return sse.message("queue", body, event_id=None if late else update.id)


class SignageService:
    """Owns the tracker, the LISTEN connection and the hubs of one process."""

    def __init__(
        self,
        database: Database,
        *,
        clock: Clock = system_clock,
        poll_seconds: float | None = None,
        gap_timeout: float | None = None,
    ) -> None:
        self.database = database
        self.clock = clock
        sqlite = database.dialect == "sqlite"
        self.poll_seconds = poll_seconds if poll_seconds is not None else (0.1 if sqlite else 2.0)
        self.gap_timeout = gap_timeout if gap_timeout is not None else (0.0 if sqlite else 1.5)
        self.metrics = StreamMetrics()
        self.hubs: dict[tuple[int, int], BranchHub] = {}
        self.horizon = feed.Horizon(0, self.gap_timeout)
        self.listening = False
        self.stopping = False
        self._wake: asyncio.Event | None = None
        self._scans_started = 0
        self._scans_done = 0
        self._scanned: asyncio.Condition | None = None
        self._tasks: list[asyncio.Task[None]] = []

    @contextlib.contextmanager
    def read(self, tenant_id: int) -> Any:
        """A read-only transaction in ``tenant_id``'s scope and the system actor for it."""
        with self.database.transaction(tenant_id, readonly=True) as session:
            yield session, Actor.system(tenant_id, clock=self.clock)

    async def start(self) -> None:
        self._wake = asyncio.Event()
        self._scanned = asyncio.Condition()
        self.horizon = feed.Horizon(await asyncio.to_thread(self._head), self.gap_timeout)
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
        marks, late = await asyncio.to_thread(self._marks, self.horizon.position, late_ids)
        passed = set(self.horizon.advance([m.id for m in marks], time.monotonic()))
        touched = {(m.tenant_id, m.branch_id) for m in marks if m.id in passed}
        self.horizon.found_late(m.id for m in late)
        self.horizon.expire_late(time.monotonic())
        late_by_branch: dict[tuple[int, int], list[int]] = {}
        for mark in late:
            late_by_branch.setdefault((mark.tenant_id, mark.branch_id), []).append(mark.id)
        for key, hub in list(self.hubs.items()):
            hub.advance(self.horizon.position, key in touched, late_by_branch.get(key, ()))
        self.metrics.horizon = self.horizon.position
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
