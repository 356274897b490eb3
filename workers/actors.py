"""Thin actors: they take ids, call the relay, and are safe to run twice.

Importing this module before ``workers.broker.setup_broker`` raises ``BrokerOrderError``.
"""

from __future__ import annotations

import dramatiq

from core.messaging.inbound_limits import InboundLimiter
from core.patients.phones import PhoneVault
from db.engine import Database
from qlink.conversation import inbound_handler
from webhooks.inbox import InboxProcessor
from workers import ticker
from workers.broker import runtime
from workers.inbox_queue import INBOX_QUEUE, PROCESS_INBOX
from workers.projector import Projector

runtime()  # fail loudly at import when no broker was chosen


@dramatiq.actor(queue_name="outbox", max_retries=3, min_backoff=200, time_limit=30_000)
def send_outbox(outbox_id: int) -> None:
    """Send one outbox row now (claimed by compare-and-set, so a duplicate does nothing)."""
    runtime().get_relay().sweep(outbox_ids=[outbox_id])


@dramatiq.actor(queue_name="outbox", max_retries=0, time_limit=60_000)
def sweep_outbox() -> None:
    """Send every due row (the safety net behind lost nudges; enqueued by the ticker)."""
    relay = runtime().get_relay()
    while relay.sweep():
        pass


_inbox: InboxProcessor | None = None


def _inbox_processor() -> InboxProcessor:
    global _inbox
    if _inbox is None:
        settings = runtime().settings
        database = Database.from_url(settings.database_url)
        Projector(database, background=True).install()  # tokens issued over WhatsApp
        _inbox = InboxProcessor(
            database,
            vault=PhoneVault(settings.data_key),
            limiter=InboundLimiter(settings.redis_url),
            handler=inbound_handler(settings),
        )
    return _inbox


@dramatiq.actor(actor_name=PROCESS_INBOX, queue_name=INBOX_QUEUE, max_retries=0, time_limit=60_000)
def process_inbox(inbox_id: int) -> None:
    """Process one stored webhook delivery (enqueued by the service after the row committed).

    A conversation ``Conflict`` is retried at once, a few times; any other failure is counted
    on the row and left pending for the service's sweep (no Dramatiq retry: a row that is done
    is skipped, so a duplicate message does nothing). The replies it wrote are sent at once
    from this thread (one relay pass) rather than at the next outbox tick.
    """
    report = _inbox_processor().process(inbox_id)
    if report is not None and report.handled:
        runtime().get_relay().sweep()


@dramatiq.actor(queue_name="jobs", max_retries=0, time_limit=60_000)
def send_reminders() -> None:
    """Write the appointment reminders due now (the dedupe key makes a repeat harmless)."""
    runtime().get_relay()  # opens the database
    if runtime().database is not None:
        ticker.send_reminders(runtime().database)


@dramatiq.actor(queue_name="jobs", max_retries=0, time_limit=60_000)
def expire_offers() -> None:
    """Expire lapsed waiting-list offers and pass their slots on (enqueued every minute)."""
    runtime().get_relay()  # opens the database
    if runtime().database is not None:
        ticker.expire_offers(runtime().database)


@dramatiq.actor(queue_name="jobs", max_retries=0, time_limit=300_000)
def refresh_calendar_feeds() -> None:
    """Read the doctors' due calendar feeds into busy blocks (enqueued every minute)."""
    runtime().get_relay()
    if runtime().database is not None:
        ticker.refresh_calendar_feeds(runtime().database)


@dramatiq.actor(queue_name="jobs", max_retries=0, time_limit=600_000)
def purge_retention() -> None:
    """Purge message bodies past each clinic's retention (enqueued daily by the ticker)."""
    runtime().get_relay()
    if runtime().database is not None:
        ticker.purge_retention(runtime().database)


@dramatiq.actor(queue_name="jobs", max_retries=0, time_limit=60_000)
def repair_projections() -> None:
    """Re-project departments whose ETA re-projection a dead process lost (every 15 s)."""
    runtime().get_relay()  # opens the database
    database = runtime().database
    if database is not None:
        ticker.repair_projections(database)
