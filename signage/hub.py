"""The screens of one branch in this process, and the one reader that feeds them.

For every branch with screens open there is one ``BranchHub`` (created by
``signage.service.SignageService``): it reads that branch's new events once per wake-up, renders
them once (``core.signage.deltas``) and hands the encoded bytes to each screen's queue. A hub runs
its jobs one at a time, so a screen's snapshot and the updates after it are always produced in
order. Nothing lives only in memory: every process derives the same stream from the database, so
screens can reconnect to any process, and ``Last-Event-ID`` replays from the table.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any

from core.context import Actor
from core.signage import board as boards
from core.signage import feed
from core.signage.branches import BranchRef
from core.signage.deltas import Update, render_updates
from signage import sse

if TYPE_CHECKING:
    from signage.service import SignageService

log = logging.getLogger("qlink.signage")

MAX_REPLAY = 300
QUEUE_LIMIT = 500
SNAPSHOT_REUSE_SECONDS = 3.0
HUB_IDLE_SECONDS = 30.0


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
                updates = await self.service.off_loop(self._read, self.cursor, position, late)
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
        messages = await self.service.off_loop(self._opening, sub, last_event_id, snapshot)
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
