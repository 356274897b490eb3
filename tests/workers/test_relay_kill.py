"""A real ``qlink worker`` process killed (SIGKILL) mid-send: the message goes out exactly once.

PostgreSQL, a fresh database, the fake Graph server holding the HTTP answer so the kill lands
after Meta recorded the message and before the worker stored the outcome. Meta's ``sent``
status webhook (carrying ``biz_opaque_callback_data`` = the outbox id) is applied as the
inbound layer would; the restarted worker reclaims the expired claim, finds the wamid on the
journal row and does not resend.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select, update

from core.messaging import outbound
from db.engine import ALL_TENANTS, Database, make_engine
from db.migrate import upgrade
from db.models import OutboxMessage, WhatsAppMessage
from tests.conftest import _new_postgresql_database
from tests.fakes.graph import FakeGraph
from tests.support import TEST_DATA_KEY
from tests.workers.outbound_world import build_world

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def pg_fresh(request):
    with _new_postgresql_database() as url:
        request.node.user_properties.append(("qlink_backend", "postgresql"))
        database = Database(make_engine(url))
        upgrade(database.engine)
        yield url, database
        database.dispose()


def _worker(url: str, graph_url: str, home: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QLINK_", "WHATSAPP_"))}
    env |= {
        "QLINK_DATABASE_URL": url,
        "QLINK_HOME": str(home),
        "QLINK_DATA_KEY": TEST_DATA_KEY,
        "WHATSAPP_GRAPH_URL": graph_url,
        "WHATSAPP_ACCESS_TOKEN": "test-token",
    }
    command = [sys.executable, "-m", "qlink", "worker", "--interval", "0.05", "--lease", "1"]
    return subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.DEVNULL)


def _poll(check, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_worker_killed_mid_send_sends_exactly_once_after_restart(pg_fresh, tmp_path):
    url, db = pg_fresh
    with db.transaction(ALL_TENANTS) as session:
        world = build_world(session, slug="kill-test")
        now = dt.datetime.now(dt.UTC)
        session.execute(  # due now on the real clock; the window open on it too
            update(OutboxMessage)
            .where(OutboxMessage.id == world.outbox_id)
            .values(available_at=now - dt.timedelta(seconds=1))
        )
    fake = FakeGraph().start()
    try:
        fake.hold()
        worker = _worker(url, fake.url, tmp_path)
        try:
            fake.wait_for(1, timeout=30)  # Meta has the message; its answer is held
            worker.send_signal(signal.SIGKILL)
        finally:
            worker.wait(10)
        with db.transaction(ALL_TENANTS) as session:
            row = session.get(OutboxMessage, world.outbox_id)
            journal = session.execute(
                select(WhatsAppMessage).where(WhatsAppMessage.outbox_id == world.outbox_id)
            ).scalar_one()
            assert (row.status, journal.status, journal.wa_message_id) == (
                "sending",
                "queued",
                None,
            )
        fake.release()
        wamid = _poll(lambda: fake.wamids and fake.wamids[0])
        callback = fake.requests[0].body["biz_opaque_callback_data"]
        with db.transaction(ALL_TENANTS) as session:  # Meta's "sent" status webhook
            assert outbound.record_status(
                session,
                tenant_id=world.clinic.tenant_id,
                wamid=wamid,
                status="sent",
                at=dt.datetime.now(dt.UTC),
                callback_data=callback,
            )
        restarted = _worker(url, fake.url, tmp_path)
        try:

            def sent() -> bool:
                with db.transaction(ALL_TENANTS, readonly=True) as session:
                    status = session.get(OutboxMessage, world.outbox_id).status
                return status == "sent"

            _poll(sent)
        finally:
            restarted.terminate()
            restarted.wait(10)
        assert len(fake.requests) == 1
        assert callback == str(world.outbox_id)
    finally:
        fake.stop()


def test_a_killed_worker_before_meta_answered_without_a_webhook_resends_once(pg_fresh, tmp_path):
    """The documented at-least-once window: no status webhook, so the reclaimed row is resent."""
    url, db = pg_fresh
    with db.transaction(ALL_TENANTS) as session:
        world = build_world(session, slug="kill-test-2")
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == world.outbox_id)
            .values(available_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
    fake = FakeGraph().start()
    try:
        fake.hold()
        worker = _worker(url, fake.url, tmp_path)
        try:
            fake.wait_for(1, timeout=30)
            worker.send_signal(signal.SIGKILL)
        finally:
            worker.wait(10)
        fake.release()
        restarted = _worker(url, fake.url, tmp_path)
        try:

            def sent() -> bool:
                with db.transaction(ALL_TENANTS, readonly=True) as session:
                    return session.get(OutboxMessage, world.outbox_id).status == "sent"

            _poll(sent)
        finally:
            restarted.terminate()
            restarted.wait(10)
        assert len(fake.requests) == 2  # sent twice: the honest limit without Meta's webhook
        with db.transaction(ALL_TENANTS, readonly=True) as session:
            journals = (
                session.execute(
                    select(WhatsAppMessage).where(WhatsAppMessage.outbox_id == world.outbox_id)
                )
                .scalars()
                .all()
            )
        assert len(journals) == 1 and journals[0].status == "sent"  # one row, one wamid
    finally:
        fake.stop()
