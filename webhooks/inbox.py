"""The WhatsApp inbox of the HTTP service: check signatures, store, process after commit.

Built by ``qlink.asgi.create_app`` and kept on ``app.state.whatsapp``; its lifespan calls
``start`` (a sweep for deliveries a crash left pending) and ``stop`` (waits for the tasks in
flight). Processing runs on a worker thread in its own transaction, after the storing one
committed, or, when the composition root passes ``enqueue`` (Redis configured), in a
``qlink worker`` process: the ``process_inbox`` actor runs the same ``InboxProcessor``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import hmac
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from core.clock import Clock, system_clock
from core.errors import Conflict
from core.messaging.inbound import (
    DeliveryReport,
    Handler,
    Limiter,
    note_failure,
    pending_deliveries,
    process_delivery,
    record_delivery,
)
from core.patients.phones import PhoneVault
from db.engine import Database

log = logging.getLogger("qlink.whatsapp.inbound")
SIGNATURE_PREFIX = "sha256="
SWEEP_AGE = dt.timedelta(minutes=1)  # younger pending rows are probably being processed now
SWEEP_EVERY = 60.0  # seconds between sweeps while the service runs
CONFLICT_TRIES = 3  # a conversation that moved on meanwhile (two messages at once) is retried
PROCESS_THREADS = 2  # processing never takes the threads the route's store needs


Enqueue = Callable[[int], object]  # hands an inbox id to the workers (``process_inbox``)


class InboxProcessor:
    """Process stored deliveries, each in its own transaction (the service's threads and the
    ``process_inbox`` Dramatiq actor share this)."""

    def __init__(
        self,
        database: Database,
        *,
        vault: PhoneVault,
        limiter: Limiter | None = None,
        handler: Handler | None = None,
        clock: Clock = system_clock,
    ) -> None:
        self._db = database
        self._vault = vault
        self._limiter = limiter
        self._handler = handler
        self._clock = clock

    def process(self, inbox_id: int) -> DeliveryReport | None:
        """Process one delivery in its own transaction; on failure it stays pending (blocking).

        A failure is counted on the inbox row; after ``MAX_ATTEMPTS`` the row is set aside as
        ``failed`` with its last error, so a delivery that can never succeed stops coming back.
        """
        for attempt in range(1, CONFLICT_TRIES + 1):
            try:
                return self._process_once(inbox_id)
            except Conflict as exc:
                if attempt == CONFLICT_TRIES:
                    log.warning("webhook inbox %s: still conflicting, left for the sweep", inbox_id)
                    self._note(inbox_id, exc)
            except Exception as exc:  # left pending: the sweep retries it; the service stays up
                log.exception("webhook inbox %s: processing failed, left for the sweep", inbox_id)
                self._note(inbox_id, exc)
                return None
        return None

    def _note(self, inbox_id: int, exc: Exception) -> None:
        try:
            with self._db.transaction(None) as session:
                gave_up = note_failure(session, inbox_id, repr(exc), now=self._clock())
        except Exception:  # the database itself is failing: the row stays pending
            log.exception("webhook inbox %s: failure not recorded", inbox_id)
            return
        if gave_up:
            log.error("webhook inbox %s: set aside as failed after repeated errors", inbox_id)

    def _process_once(self, inbox_id: int) -> DeliveryReport:
        with self._db.transaction(None) as session:
            return process_delivery(
                session,
                inbox_id,
                vault=self._vault,
                limiter=self._limiter,
                handler=self._handler,
                clock=self._clock,
            )


class WhatsAppInbox:
    """Signature check, storage and after-commit processing of WhatsApp deliveries."""

    def __init__(
        self,
        database: Database,
        *,
        app_secret: str,
        vault: PhoneVault,
        limiter: Limiter | None = None,
        handler: Handler | None = None,
        clock: Clock = system_clock,
        enqueue: Enqueue | None = None,
    ) -> None:
        self._db = database
        self._key = app_secret.encode()
        self._clock = clock
        self._processor = InboxProcessor(
            database, vault=vault, limiter=limiter, handler=handler, clock=clock
        )
        self._enqueue = enqueue
        self._tasks: set[asyncio.Future[object]] = set()
        self._executor = ThreadPoolExecutor(PROCESS_THREADS, thread_name_prefix="wa-inbound")
        self._sweeper: asyncio.Task[None] | None = None

    def signature_ok(self, body: bytes, header: str) -> bool:
        """Tell whether ``X-Hub-Signature-256`` is the HMAC-SHA256 of the raw body."""
        expected = SIGNATURE_PREFIX + hmac.new(self._key, body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected.encode(), header.strip().lower().encode())

    def store(self, body: bytes) -> int:
        """Commit the raw delivery as a pending inbox row; return its id (blocking)."""
        with self._db.transaction(None) as session:
            return record_delivery(session, body.decode(), now=self._clock())

    def process(self, inbox_id: int) -> DeliveryReport | None:
        """Process one delivery now, on this thread (see ``InboxProcessor.process``)."""
        return self._processor.process(inbox_id)

    def sweep(self, *, limit: int = 100) -> int:
        """Hand on deliveries left pending (a crash between store and process); return how many.

        Embedded, they are processed here; with an ``enqueue`` (Redis) they go to the
        ``qlink worker`` processes, never processed in the service (a duplicate enqueue is
        harmless: a processed row is skipped). Redis down: they stay pending for the next sweep.
        """
        before = self._clock() - SWEEP_AGE
        with self._db.transaction(None, readonly=True) as session:
            ids = pending_deliveries(session, received_before=before, limit=limit)
        for inbox_id in ids:
            if self._enqueue is None:
                self.process(inbox_id)
            else:
                self._hand_over(inbox_id)
        return len(ids)

    def schedule(self, inbox_id: int) -> None:
        """Process ``inbox_id`` soon, off the event loop (call after the store committed).

        With an ``enqueue`` (Redis configured) the delivery goes to the ``qlink worker``
        processes; a failed enqueue leaves the row pending for the sweep.
        """
        loop = asyncio.get_running_loop()
        work = self.process if self._enqueue is None else self._hand_over
        self._track(loop.run_in_executor(self._executor, work, inbox_id))

    def _hand_over(self, inbox_id: int) -> None:
        assert self._enqueue is not None
        try:
            self._enqueue(inbox_id)
        except Exception:  # Redis down: the row stays pending and the next sweep enqueues it
            log.exception("webhook inbox %s: not enqueued, left for the sweep", inbox_id)

    def _track(self, future: asyncio.Future[object]) -> None:
        self._tasks.add(future)
        future.add_done_callback(self._tasks.discard)

    async def start(self) -> None:
        """Sweep now (a previous run may have left deliveries pending) and then periodically."""
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep_forever())

    async def _sweep_forever(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                await loop.run_in_executor(self._executor, self.sweep)
            except Exception:  # a database outage must not end the sweeping
                log.exception("webhook inbox sweep failed")
            await asyncio.sleep(SWEEP_EVERY)

    async def stop(self) -> None:
        """Wait for the processing in flight (what is cut short stays pending for the sweep)."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        await self.idle()
        self._executor.shutdown(wait=True)

    async def idle(self) -> None:
        """Wait until nothing is being processed (tests, benchmarks)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
