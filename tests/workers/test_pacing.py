"""Outbound pacing with Dramatiq's rate limiters: a burst to one recipient is spaced, none lost.

The limiter itself on the in-memory backend and on Redis; then a real relay (committed rows on
a fresh database, the fake Graph server) sending a burst of replies to one patient.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from collections import Counter

import pytest
from sqlalchemy import select, update

from core.messaging.messages import SEND, Recipient, Text, to_payload
from db.engine import ALL_TENANTS, Database
from db.migrate import upgrade
from db.models import ConversationSession, OutboxMessage
from tests.fakes.graph import FakeGraph
from tests.workers.outbound_world import VAULT, build_world
from workers.graph import GraphClient
from workers.outbox import Relay
from workers.pacing import Limits, Pacer

REDIS_URL = "redis://127.0.0.1:6379/0"


def _redis_up() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5).ping())
    except redis.RedisError:
        return False


@pytest.mark.parametrize("backend", ["memory", "redis"])
def test_the_pair_limit_defers_the_third_message_but_not_another_recipient(backend):
    if backend == "redis" and not _redis_up():
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    url = REDIS_URL if backend == "redis" else None
    pacer = Pacer.for_redis_url(url, Limits(pair_limit=2, pair_window=6, number_limit=100))
    number, me, other = f"pn{uuid.uuid4().hex[:8]}", "919876500001", "919876500002"
    assert [pacer.admit(number, me) for _ in range(2)] == [None, None]
    assert pacer.admit(number, me) == pytest.approx(3.0)  # window / limit
    assert pacer.admit(number, other) is None
    assert pacer.admit(f"{number}-2", me) is None  # the pair is per business number


def test_the_number_limit_defers_past_its_throughput():
    pacer = Pacer.for_redis_url(None, Limits(pair_limit=100, number_limit=3))
    while time.time() % 1 > 0.5:  # all four inside one second's bucket
        time.sleep(0.05)
    admitted = [pacer.admit("1055", f"9198765{i:05d}") for i in range(4)]
    assert admitted == [None, None, None, 1.0]


def test_a_mark_read_counts_against_the_number_only():
    pacer = Pacer.for_redis_url(None, Limits(pair_limit=1, number_limit=50))
    assert [pacer.admit("1055", "") for _ in range(5)] == [None] * 5


def test_limits_must_be_positive():
    with pytest.raises(ValueError):
        Limits(pair_limit=0)


def test_a_burst_to_one_recipient_is_spaced_and_every_message_sent_once(fresh_url):
    db = Database.from_url(fresh_url)
    upgrade(db.engine)
    burst = 6
    with db.transaction(ALL_TENANTS) as session:
        world = build_world(session, slug=f"pace-{uuid.uuid4().hex[:6]}")
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.tenant_id == world.clinic.tenant_id)
            .values(status="parked")
        )
        now = dt.datetime.now(dt.UTC)
        recipient = Recipient(
            contact_key="919876543210",
            phone_number_id=world.phone_number_id,
            patient_id=world.patient_id,
            wa_id="919876543210",
        )
        ids = []
        for i in range(burst):
            row = OutboxMessage(
                tenant_id=world.clinic.tenant_id,
                kind=SEND,
                payload=to_payload(recipient, Text(f"reply {i}")),
                available_at=now,
                created_at=now,
            )
            session.add(row)
            session.flush()
            ids.append(row.id)
        # the window opened by the world is on its frozen clock: reopen it on the real one
        session.execute(
            update(ConversationSession)
            .where(ConversationSession.tenant_id == world.clinic.tenant_id)
            .values(last_inbound_at=now)
        )
    fake = FakeGraph().start()
    graph = GraphClient(fake.url, "test-token")
    pacer = Pacer.for_redis_url(None, Limits(pair_limit=2, pair_window=1, number_limit=80))
    relay = Relay(db, graph.post, VAULT, upload=graph.upload_media, pacer=pacer)
    stop = threading.Event()
    thread = relay.start_thread(stop, interval=0.05)
    try:
        fake.wait_for(burst, timeout=30)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with db.transaction(ALL_TENANTS, readonly=True) as session:
                statuses = session.execute(
                    select(OutboxMessage.status).where(OutboxMessage.id.in_(ids))
                ).scalars()
                if set(statuses) == {"sent"}:
                    break
            time.sleep(0.05)
        else:
            raise AssertionError("not every message was sent")
        time.sleep(0.3)  # nothing more arrives
    finally:
        stop.set()
        thread.join(5)
        graph.close()
        fake.stop()
    callbacks = Counter(r.body["biz_opaque_callback_data"] for r in fake.requests)
    assert callbacks == Counter({str(i): 1 for i in ids})  # each once: none lost, none doubled
    per_second = Counter(int(r.at) for r in fake.requests)
    assert max(per_second.values()) <= 2  # never more than the pair limit in one second
    arrivals = sorted(r.at for r in fake.requests)
    assert arrivals[-1] - arrivals[0] >= 1.0  # spaced over at least three seconds' buckets
    with db.transaction(ALL_TENANTS, readonly=True) as session:
        attempts = session.execute(
            select(OutboxMessage.attempts).where(OutboxMessage.id.in_(ids))
        ).scalars()
        assert set(attempts) == {1}  # a deferral is not a failed attempt
    db.dispose()
