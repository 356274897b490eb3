"""The Redis path: ``qlink worker`` (Dramatiq worker processes on Redis) killed mid-send.

PostgreSQL (fresh database), Redis (its own database index) and the fake Graph server, which
holds the answer to the first send so the SIGKILL lands after Meta recorded the message and
before the worker stored the outcome. The whole process group dies (the ``qlink worker``
parent, the Dramatiq main process and its worker process). Meta's ``sent`` status webhook is
applied as the inbound layer would; a fresh ``qlink worker`` then reclaims the expired claims:
every message is sent exactly once (the fake's record), none is lost.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select, update

from core.messaging import outbound
from core.messaging.messages import SEND, Recipient, Text, to_payload
from db.engine import ALL_TENANTS, Database, make_engine
from db.migrate import upgrade
from db.models import ConversationSession, OutboxMessage, WhatsAppMessage
from tests.conftest import _new_postgresql_database
from tests.fakes.graph import FakeGraph
from tests.support import TEST_DATA_KEY
from tests.workers.outbound_world import build_world
from tests.workers.test_relay_kill import _poll

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = "redis://127.0.0.1:6379/13"  # this test's own index: flushed before it runs
MESSAGES = 3


@pytest.fixture
def redis_url():
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5)
    try:
        client.flushdb()
    except redis.RedisError:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    yield REDIS_URL
    client.flushdb()
    client.close()


@pytest.fixture
def pg_fresh(request):
    with _new_postgresql_database() as url:
        request.node.user_properties.append(("qlink_backend", "postgresql"))
        database = Database(make_engine(url))
        upgrade(database.engine)
        yield url, database
        database.dispose()


def _qlink_worker(url: str, redis_url: str, graph_url: str, home: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QLINK_", "WHATSAPP_"))}
    env |= {
        "QLINK_DATABASE_URL": url,
        "QLINK_REDIS_URL": redis_url,
        "QLINK_HOME": str(home),
        "QLINK_DATA_KEY": TEST_DATA_KEY,
        "WHATSAPP_GRAPH_URL": graph_url,
        "WHATSAPP_ACCESS_TOKEN": "test-token",
    }
    command = [sys.executable, "-m", "qlink", "worker", "--processes", "1", "--threads", "1"]
    command += ["--lease", "1"]
    return subprocess.Popen(  # a session of its own: the kill takes the whole group
        command, cwd=ROOT, env=env, stderr=subprocess.DEVNULL, start_new_session=True
    )


def _kill_group(process: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)
    process.wait(15)


def _burst(db: Database) -> tuple[list[int], int]:
    with db.transaction(ALL_TENANTS) as session:
        world = build_world(session, slug=f"kill-redis-{uuid.uuid4().hex[:6]}")
        now = dt.datetime.now(dt.UTC)
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.tenant_id == world.clinic.tenant_id)
            .values(status="parked")
        )
        session.execute(  # the window, on the real clock
            update(ConversationSession)
            .where(ConversationSession.tenant_id == world.clinic.tenant_id)
            .values(last_inbound_at=now)
        )
        recipient = Recipient(
            contact_key="919876543210",
            phone_number_id=world.phone_number_id,
            patient_id=world.patient_id,
            wa_id="919876543210",
        )
        ids = []
        for i in range(MESSAGES):
            row = OutboxMessage(
                tenant_id=world.clinic.tenant_id,
                kind=SEND,
                payload=to_payload(recipient, Text(f"message {i}")),
                available_at=now - dt.timedelta(seconds=1),
                created_at=now,
            )
            session.add(row)
            session.flush()
            ids.append(row.id)
        return ids, world.clinic.tenant_id


def test_dramatiq_worker_killed_mid_send_sends_each_message_exactly_once(
    pg_fresh, redis_url, tmp_path
):
    url, db = pg_fresh
    ids, tenant_id = _burst(db)
    fake = FakeGraph().start()
    worker = restarted = None
    try:
        fake.hold()
        worker = _qlink_worker(url, redis_url, fake.url, tmp_path)
        try:
            (held,) = fake.wait_for(1, timeout=60)  # Meta has it; its answer is held
        finally:
            _kill_group(worker, signal.SIGKILL)
        with db.transaction(ALL_TENANTS, readonly=True) as session:
            first = int(held.body["biz_opaque_callback_data"])
            assert session.get(OutboxMessage, first).status == "sending"
            journal = session.execute(
                select(WhatsAppMessage).where(WhatsAppMessage.outbox_id == first)
            ).scalar_one()
            assert (journal.status, journal.wa_message_id) == ("queued", None)
        fake.release()
        wamid = _poll(lambda: fake.wamids and fake.wamids[0])
        with db.transaction(ALL_TENANTS) as session:  # Meta's "sent" status webhook
            assert outbound.record_status(
                session,
                tenant_id=tenant_id,
                wamid=wamid,
                status="sent",
                at=dt.datetime.now(dt.UTC),
                callback_data=str(first),
            )
        restarted = _qlink_worker(url, redis_url, fake.url, tmp_path)

        def all_sent() -> bool:
            with db.transaction(ALL_TENANTS, readonly=True) as session:
                statuses = session.execute(
                    select(OutboxMessage.status).where(OutboxMessage.id.in_(ids))
                ).scalars()
                return set(statuses) == {"sent"}

        _poll(all_sent, timeout=60)
    finally:
        for process in (worker, restarted):
            if process is not None and process.poll() is None:
                _kill_group(process, signal.SIGTERM)
        fake.stop()
    sends = Counter(r.body["biz_opaque_callback_data"] for r in fake.requests)
    assert sends == Counter({str(i): 1 for i in ids})  # exactly once each; none lost
    with db.transaction(ALL_TENANTS, readonly=True) as session:
        journals = session.execute(
            select(WhatsAppMessage.outbox_id, WhatsAppMessage.status).where(
                WhatsAppMessage.outbox_id.in_(ids)
            )
        ).all()
    assert sorted(journals) == sorted((i, "sent") for i in ids)
