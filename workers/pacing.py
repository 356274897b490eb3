"""Outbound pacing with Dramatiq's rate limiters: per recipient (Meta's pair rate) and per number.

Meta refuses a burst to one user with 131056 (about one message per 6 s on average, short
bursts tolerated) and a number's overall rate above its throughput (80 messages/s by default)
with 130429. The relay asks ``Pacer.admit`` before each send; a send over either limit is not
made now but deferred (``core.messaging.relay.defer_send``: the row goes back to ``pending``,
due a little later, the attempt not counted), so nothing is lost and nothing is doubled. The
131056 backoff of the relay stays the fallback when Meta still refuses.

Backends: Redis (``dramatiq.rate_limits.backends.RedisBackend``) when ``QLINK_REDIS_URL`` is
set, so every worker process shares the counts; the in-memory ``StubBackend`` otherwise (one
process: the embedded service or the in-process ``qlink worker``).
"""

from __future__ import annotations

from dataclasses import dataclass

from dramatiq.rate_limits import RateLimiter, WindowRateLimiter
from dramatiq.rate_limits.backends import StubBackend

PAIR_LIMIT = 5  # messages to one recipient ...
PAIR_WINDOW = 6  # ... per this many seconds (a conversation turn's few replies pass at once)
NUMBER_LIMIT = 80  # messages per second per business number (Meta's default throughput)
KEY_PREFIX = "qlink:pace"


@dataclass(frozen=True)
class Limits:
    pair_limit: int = PAIR_LIMIT
    pair_window: int = PAIR_WINDOW
    number_limit: int = NUMBER_LIMIT

    def __post_init__(self) -> None:
        if min(self.pair_limit, self.pair_window, self.number_limit) < 1:
            raise ValueError("pacing limits and windows are positive")


class Pacer:
    """Admit or defer one send, by business number and by recipient."""

    def __init__(self, backend: object, limits: Limits | None = None) -> None:
        self._backend = backend
        self.limits = limits or Limits()

    @classmethod
    def for_redis_url(cls, redis_url: str | None, limits: Limits | None = None) -> Pacer:
        """Redis-backed when ``redis_url`` is given (shared by all workers), else in memory."""
        if redis_url:
            from dramatiq.rate_limits.backends import RedisBackend

            return cls(RedisBackend(url=redis_url), limits)
        return cls(StubBackend(), limits)

    def admit(self, phone_number_id: str, contact_key: str | None) -> float | None:
        """Take a slot for one send; ``None`` when it may go now, else seconds to wait.

        ``contact_key`` empty (a mark-as-read) counts against the number only.
        """
        if contact_key:
            pair = self._limiter(
                f"pair:{phone_number_id}:{contact_key}",
                self.limits.pair_limit,
                self.limits.pair_window,
            )
            if not _take(pair):
                return self.limits.pair_window / self.limits.pair_limit
        number = self._limiter(f"number:{phone_number_id}", self.limits.number_limit, 1)
        if not _take(number):
            return 1.0
        return None

    def _limiter(self, key: str, limit: int, window: int) -> RateLimiter:
        return WindowRateLimiter(self._backend, f"{KEY_PREFIX}:{key}", limit=limit, window=window)


def _take(limiter: RateLimiter) -> bool:
    with limiter.acquire(raise_on_failure=False) as acquired:
        return bool(acquired)
