"""The ticker's database claim: two tickers racing for the same slot run the job once.

Commits for real on SQLite and PostgreSQL (job names are unique per test, so the shared
database's other claims do not matter).
"""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

from core.messaging import jobs
from workers.ticker import SlotClaim, tick

ROUNDS = 20


def test_two_tickers_racing_for_each_slot_run_every_slot_exactly_once(db):
    job = f"race-{uuid.uuid4().hex[:8]}"
    runs: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(2)

    def ticker(_: int) -> list[str]:
        claim = SlotClaim(None, db)  # each ticker its own claim store, as two processes would
        ran = []
        for slot in range(ROUNDS):

            def job_body(slot: int = slot) -> None:
                with lock:
                    runs.append(slot)

            barrier.wait(timeout=30)
            ran += tick(claim, {job: (60.0, job_body)}, now=slot * 60.0)
        return ran

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(ticker, range(2)))
    assert sorted(runs) == list(range(ROUNDS))  # every slot once: no double fire, no gap
    assert len(results[0]) + len(results[1]) == ROUNDS


def test_a_claimed_slot_is_not_claimed_again_and_old_claims_are_pruned(db):
    import datetime as dt

    from db.engine import ALL_TENANTS

    job = f"once-{uuid.uuid4().hex[:8]}"
    now = dt.datetime(2026, 12, 7, 4, 0, tzinfo=dt.UTC)
    with db.transaction(ALL_TENANTS) as s:
        assert jobs.claim_slot(s, job=job, slot=1, now=now)
        assert not jobs.claim_slot(s, job=job, slot=1, now=now)
        assert jobs.claim_slot(s, job=job, slot=2, now=now)
    with db.transaction(ALL_TENANTS) as s:
        assert jobs.prune_claims(s, now=now + dt.timedelta(days=3)) >= 2
        assert jobs.claim_slot(s, job=job, slot=3, now=now + dt.timedelta(days=3))
    with db.transaction(ALL_TENANTS) as s:
        assert not jobs.claim_slot(s, job=job, slot=3, now=now)


def test_a_failing_job_does_not_stop_the_others(db):
    claim = SlotClaim(None, db)
    ran: list[str] = []

    def boom() -> None:
        raise RuntimeError("job failed")

    suffix = uuid.uuid4().hex[:8]
    names = tick(
        claim, {f"a-{suffix}": (60.0, boom), f"b-{suffix}": (60.0, lambda: ran.append("b"))}, 0.0
    )
    assert names == [f"a-{suffix}", f"b-{suffix}"] and ran == ["b"]
