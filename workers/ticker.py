"""Periodic jobs, each time slot claimed once across processes.

With Redis a slot is claimed with ``SET key NX EX``; embedded (no Redis) with an insert into
``job_claims`` (``core.messaging.jobs``), so two service processes never both run a slot. Jobs:
the outbox sweep (every ``SWEEP_SECONDS``, Redis workers only), appointment reminders (every
minute), waiting-list offers whose time ran out (every minute: expired and passed on to the next
waiting patient), doctors' calendar feeds (ICS, every minute for the feeds not read in the last
10 minutes; ``core.scheduling.calendar_feeds``), the retention purge (daily) and the
projection sweep (every ``PROJECTION_SWEEP_SECONDS``: departments whose ETA re-projection was lost
to a dead process or a failed projection are re-projected; ``core.queue.projection_sweep``).
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import threading
import time
from collections.abc import Callable

from core.clock import Clock, system_clock
from core.messaging import jobs as job_claims
from core.messaging import reminders, retention
from core.queue import projection_sweep
from core.scheduling import calendar_feeds, waitlist_offers
from db.engine import ALL_TENANTS, Database
from workers.projector import reproject

log = logging.getLogger("qlink.ticker")
SWEEP_SECONDS = 0.2
REMINDER_SECONDS = 60.0
OFFER_SECONDS = 60.0
RETENTION_SECONDS = 86_400.0
FEED_SECONDS = 60.0
FEED_TIMEOUT = 10.0
PROJECTION_SWEEP_SECONDS = 15.0
PROJECTION_GRACE = dt.timedelta(seconds=30)  # a live projector has finished well within this
Jobs = dict[str, tuple[float, Callable[[], object]]]


class SlotClaim:
    """Claim ``(job, slot)`` once: Redis ``SET NX EX``, else a ``job_claims`` row.

    Without Redis and without a database (a single process by construction) a local set.
    """

    def __init__(
        self,
        redis_url: str | None,
        database: Database | None = None,
        clock: Clock = system_clock,
    ) -> None:
        self._redis = None
        self._db = database
        self._clock = clock
        self._seen: set[tuple[str, int]] = set()
        if redis_url:
            import redis

            self._redis = redis.Redis.from_url(redis_url)

    def claim(self, job: str, slot: int, ttl: int = 60) -> bool:
        if self._redis is not None:
            return bool(self._redis.set(f"qlink:tick:{job}:{slot}", "1", nx=True, ex=ttl))
        if self._db is not None:
            with self._db.transaction(ALL_TENANTS) as session:
                return job_claims.claim_slot(session, job=job, slot=slot, now=self._clock())
        key = (job, slot)
        if key in self._seen:
            return False
        self._seen.add(key)
        return True


def tick(claim: SlotClaim, jobs: Jobs, now: float) -> list[str]:
    """Run every job whose current slot this caller claims; return the names that ran."""
    ran = []
    for name, (period, job) in jobs.items():
        if not claim.claim(name, int(now // period), ttl=max(2, int(period * 4))):
            continue
        ran.append(name)
        try:
            job()
        except Exception:  # one failing job must not stop the ticker; its next slot retries
            log.exception("periodic job %s failed", name)
    return ran


def run_ticker(
    claim: SlotClaim,
    jobs: Jobs,
    stop: threading.Event,
    now: Callable[[], float] = time.time,
) -> None:
    """Run each job once per slot of its period until ``stop`` is set."""
    while not stop.is_set():
        try:
            tick(claim, jobs, now())
        except Exception:  # the claim store is unreachable: try again next round
            log.exception("ticker round failed")
        stop.wait(min(min(period for period, _ in jobs.values()) / 2, 5.0))


def send_reminders(database: Database, clock: Clock = system_clock) -> int:
    """Write the reminder intents due now (one transaction); return how many were new."""
    with database.transaction(ALL_TENANTS) as session:
        return reminders.write_reminders(session, now=clock())


def expire_offers(database: Database, clock: Clock = system_clock) -> int:
    """Expire every clinic's lapsed waiting-list offers, passing each slot on (one transaction;
    the next offers' messages are outbox rows); return how many expired."""
    with database.transaction(ALL_TENANTS) as session:
        return waitlist_offers.expire_offers(session, now=clock())


def purge_retention(database: Database, clock: Clock = system_clock) -> int:
    """Purge expired message bodies, one short transaction per batch; return how many."""
    total = 0
    while True:
        with database.transaction(ALL_TENANTS) as session:
            purged = retention.purge_batch(session, now=clock())
        total += purged
        if not purged:
            break
    with database.transaction(ALL_TENANTS) as session:
        job_claims.prune_claims(session, now=clock())
    return total


def fetch_feed(url: str) -> tuple[bytes | None, str | None]:
    """GET a calendar feed (10 s, at most 2 MB, redirects followed); (content, error)."""
    import httpx

    try:
        with httpx.stream("GET", url, timeout=FEED_TIMEOUT, follow_redirects=True) as response:
            if response.status_code != 200:
                return None, f"HTTP {response.status_code}"
            body = b""
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > calendar_feeds.MAX_BYTES:
                    return None, "larger than 2 MB"
            return body, None
    except httpx.HTTPError as exc:
        return None, f"{type(exc).__name__}: {exc}"[:300]


def refresh_calendar_feeds(
    database: Database,
    clock: Clock = system_clock,
    fetch: Callable[[str], tuple[bytes | None, str | None]] = fetch_feed,
) -> int:
    """Read every due calendar feed into its busy blocks (no transaction open while fetching);
    return how many were read."""
    with database.transaction(ALL_TENANTS, readonly=True) as session:
        due = calendar_feeds.due_feeds(session, now=clock())
    for feed in due:
        content, error = fetch(feed.url)
        with database.transaction(feed.tenant_id) as session:
            calendar_feeds.refresh_feed(
                session, feed.tenant_id, feed.feed_id, content=content, error=error, now=clock()
            )
    return len(due)


def repair_projections(database: Database, clock: Clock = system_clock) -> int:
    """Re-project every department whose last change no projection covers (bump, then project:
    the projector's two transactions); return how many were repaired. One department failing
    is logged and left to the next sweep."""
    now = clock()
    with database.transaction(ALL_TENANTS, readonly=True) as session:
        stale = projection_sweep.stale_departments(session, now, grace=PROJECTION_GRACE)
    repaired = 0
    for found in stale:
        try:
            reproject(database, found.tenant_id, found.department_id, now)
        except Exception:  # the next sweep finds it again
            log.exception("re-projection of department %s failed", found.department_id)
            continue
        repaired += 1
    if stale:
        log.warning(
            "projection sweep: %d of %d departments with a lost re-projection repaired",
            repaired,
            len(stale),
        )
    return repaired


def projection_jobs(database: Database, clock: Clock = system_clock) -> Jobs:
    """The projection sweep, run by every process that changes queues with a projector."""
    return {
        "projection_sweep": (
            PROJECTION_SWEEP_SECONDS,
            functools.partial(repair_projections, database, clock),
        )
    }


def message_jobs(database: Database, clock: Clock = system_clock) -> Jobs:
    """The reminder, offer-expiry and retention jobs, run in this process (the embedded
    service)."""
    return {
        "reminders": (REMINDER_SECONDS, functools.partial(send_reminders, database, clock)),
        "offers": (OFFER_SECONDS, functools.partial(expire_offers, database, clock)),
        "calendar_feeds": (
            FEED_SECONDS,
            functools.partial(refresh_calendar_feeds, database, clock),
        ),
        "retention": (RETENTION_SECONDS, functools.partial(purge_retention, database, clock)),
    }


class BackgroundTicker:
    """The ticker on a thread of the HTTP service: the message jobs when it sends WhatsApp
    itself (embedded), and the projection sweep. Slots are claimed in Redis when ``redis_url``
    is given (shared with ``qlink worker``'s ticker), else in the database."""

    def __init__(
        self,
        database: Database,
        clock: Clock = system_clock,
        *,
        messages: bool = True,
        projections: bool = True,
        redis_url: str | None = None,
    ) -> None:
        self._claim = SlotClaim(redis_url, database, clock)
        self._jobs = message_jobs(database, clock) if messages else {}
        if projections:
            self._jobs.update(projection_jobs(database, clock))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(
            target=run_ticker, args=(self._claim, self._jobs, self._stop), name="qlink-ticker"
        )
        self._thread.daemon = True
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)
