"""Rate limits of the partner API per key and per client IP (the ``limits`` library).

Per IP first (it also slows guessing of keys), then per key once the key is known good. Counters
live in Redis when ``QLINK_REDIS_URL`` is set (shared by every process), else in memory.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

PER_KEY = "120/minute"
PER_IP = "300/minute"


class PartnerLimiter:
    """Moving-window limits; each ``hit_*`` returns seconds to wait, or None when allowed."""

    def __init__(
        self, storage_url: str | None = None, *, per_key: str = PER_KEY, per_ip: str = PER_IP
    ) -> None:
        self._limiter = MovingWindowRateLimiter(storage_from_string(storage_url or "memory://"))
        self._key: RateLimitItem = parse(per_key)
        self._ip: RateLimitItem = parse(per_ip)

    def hit_ip(self, address: str) -> int | None:
        return self._hit(self._ip, "api-ip", address)

    def hit_key(self, client_id: int) -> int | None:
        return self._hit(self._key, "api-key", str(client_id))

    def _hit(self, item: RateLimitItem, *ids: str) -> int | None:
        if self._limiter.hit(item, *ids):
            return None
        reset = self._limiter.get_window_stats(item, *ids).reset_time
        return max(1, math.ceil(reset - time.time()))
