"""Hand a stored webhook delivery to the ``qlink worker`` processes (the service's side).

The HTTP service does not import ``workers.actors``: that would install a process-wide
Dramatiq broker in the web process. It enqueues the ``process_inbox`` message by name on a
broker of its own; the worker processes run the actor (``workers.actors.process_inbox``).
"""

from __future__ import annotations

from collections.abc import Callable

from dramatiq import Message
from dramatiq.brokers.redis import RedisBroker

INBOX_QUEUE = "inbox"
PROCESS_INBOX = "process_inbox"


def redis_enqueuer(redis_url: str) -> Callable[[int], None]:
    """Return ``enqueue(inbox_id)``: one Redis round trip, blocking (call it off the loop)."""
    broker = RedisBroker(url=redis_url, middleware=[])

    def enqueue(inbox_id: int) -> None:
        broker.enqueue(
            Message(
                queue_name=INBOX_QUEUE,
                actor_name=PROCESS_INBOX,
                args=(inbox_id,),
                kwargs={},
                options={},
            )
        )

    return enqueue
