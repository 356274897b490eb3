"""Thin actors: they take ids, call the relay, and are safe to run twice.

Importing this module before ``workers.broker.setup_broker`` raises ``BrokerOrderError``.
"""

from __future__ import annotations

import dramatiq

from workers.broker import runtime

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
