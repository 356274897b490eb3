"""Periodic jobs, each time slot claimed once across processes.

With Redis a slot is claimed with ``SET key NX EX``; embedded (no Redis) the single process
owns every slot. Jobs: the outbox sweep (every ``SWEEP_SECONDS``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

SWEEP_SECONDS = 0.2


class SlotClaim:
    """Claim ``(job, slot)`` once: Redis ``SET NX EX`` or, without Redis, a local set."""

    def __init__(self, redis_url: str | None) -> None:
        self._redis = None
        self._seen: set[tuple[str, int]] = set()
        if redis_url:
            import redis

            self._redis = redis.Redis.from_url(redis_url)

    def claim(self, job: str, slot: int, ttl: int = 60) -> bool:
        if self._redis is not None:
            return bool(self._redis.set(f"qlink:tick:{job}:{slot}", "1", nx=True, ex=ttl))
        key = (job, slot)
        if key in self._seen:
            return False
        self._seen.add(key)
        return True


def run_ticker(
    claim: SlotClaim, jobs: dict[str, tuple[float, Callable[[], None]]], stop: threading.Event
) -> None:
    """Run each job once per slot of its period until ``stop`` is set."""
    while not stop.is_set():
        now = time.time()
        for name, (period, job) in jobs.items():
            if claim.claim(name, int(now // period), ttl=max(2, int(period * 4))):
                job()
        stop.wait(min(period for period, _ in jobs.values()) / 2)
