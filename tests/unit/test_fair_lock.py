"""SQLite writers queue on a first-come, first-served lock."""

from __future__ import annotations

import threading
import time

from db.engine import FairLock


def test_fair_lock_serves_writers_in_arrival_order():
    lock, order, started = FairLock(), [], []
    lock.acquire()

    def writer(n: int) -> None:
        started.append(n)
        lock.acquire()
        order.append(n)
        lock.release()

    threads = []
    for n in range(5):
        t = threading.Thread(target=writer, args=(n,))
        t.start()
        threads.append(t)
        while len(started) <= n:  # each writer is queued before the next one arrives
            time.sleep(0.001)
        time.sleep(0.02)
    lock.release()
    for t in threads:
        t.join(5)
    assert order == [0, 1, 2, 3, 4]
