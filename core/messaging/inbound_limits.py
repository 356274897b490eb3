"""Inbound rate limits per clinic number and per sender (the ``limits`` library).

Over a limit a message is still stored and Meta still gets 200 (a non-200 only makes Meta
retry for days); it is marked ``throttled`` and not handed to the conversation.

The numbers: a person in a conversation sends a few messages a minute, so 20 per minute per
sender stops only a loop or a flood (a bot, a stuck client). 600 per minute per clinic number
(10 a second, sustained) is far above a clinic's busiest morning yet keeps one flooded number
from taking every worker. Counters live in Redis when ``QLINK_REDIS_URL`` is set (shared by
every process), else in process memory (one process: the embedded demo, tests).
"""

from __future__ import annotations

from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

PER_SENDER = "20/minute"
PER_NUMBER = "600/minute"


class InboundLimiter:
    """Moving-window limits on a clinic number and on one sender to it."""

    def __init__(
        self,
        redis_url: str | None = None,
        *,
        per_sender: str = PER_SENDER,
        per_number: str = PER_NUMBER,
    ) -> None:
        storage = storage_from_string(redis_url or "memory://")
        self._limiter = MovingWindowRateLimiter(storage)
        self._sender: RateLimitItem = parse(per_sender)
        self._number: RateLimitItem = parse(per_number)

    def allow(self, phone_number_id: str, contact_key: str) -> bool:
        """Count one message; False when the sender or the number is over its limit."""
        # The sender first: a flooding sender must not use up the clinic number's budget.
        if not self._limiter.hit(self._sender, "wa-in-sender", phone_number_id, contact_key):
            return False
        return self._limiter.hit(self._number, "wa-in-number", phone_number_id)
