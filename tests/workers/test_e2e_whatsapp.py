"""The whole WhatsApp journey on PostgreSQL + Redis with real ``qlink worker`` processes.

The service (the real app under TestClient, ``QLINK_REDIS_URL`` set) stores each signed
delivery and enqueues ``process_inbox``; a real ``python -m qlink worker`` (two Dramatiq
processes) runs the conversation and the outbox relay, sending to a loopback fake Graph server.
Queue notifications come from ``call_next`` through core, as a doctor's desk would call.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from db.engine import ALL_TENANTS, Database, make_engine
from db.migrate import upgrade
from db.models.messaging import WebhookInbox
from qlink.asgi import create_app
from qlink.settings import Settings
from tests.conftest import _new_postgresql_database
from tests.fakes.graph import FakeGraph
from tests.web.journey import Journey, open_clinic, walk_through
from tests.web.whatsapp_support import number_id

ROOT = Path(__file__).resolve().parents[2]
# A Redis database of its own: a worker of another test run must not take these messages.
REDIS_URL = os.environ.get("QLINK_TEST_E2E_REDIS_URL", "redis://127.0.0.1:6379/11")
APP_SECRET = "e2e-app-secret"


@pytest.fixture
def pg_fresh(request):
    with _new_postgresql_database() as url:
        request.node.user_properties.append(("qlink_backend", "postgresql"))
        database = Database(make_engine(url))
        upgrade(database.engine)
        yield url, database
        database.dispose()


def service_env(url: str, graph_url: str, home: Path) -> dict[str, str]:
    """The settings the service and its workers share (database, Redis, data key, Graph)."""
    return {
        "QLINK_DATABASE_URL": url,
        "QLINK_HOME": str(home),
        "QLINK_SECRET_KEY": "s" * 32,
        "QLINK_DATA_KEY": "k" * 43,
        "QLINK_REDIS_URL": REDIS_URL,
        "WHATSAPP_APP_SECRET": APP_SECRET,
        "WHATSAPP_GRAPH_URL": graph_url,
        "WHATSAPP_ACCESS_TOKEN": "test-token",
    }


def start_worker(env: dict[str, str], processes: int = 2) -> subprocess.Popen[bytes]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("QLINK_", "WHATSAPP_"))}
    command = [sys.executable, "-m", "qlink", "worker", "--processes", str(processes)]
    return subprocess.Popen(
        command,
        cwd=ROOT,
        env=base | env,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its Dramatiq children are stopped with it, by group
    )


def stop_worker(worker: subprocess.Popen[bytes]) -> None:
    if worker.poll() is None:
        os.killpg(worker.pid, signal.SIGTERM)
    try:
        worker.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(10)


def test_journey_on_postgresql_and_redis_with_real_workers(pg_fresh, tmp_path):
    url, db = pg_fresh
    fake = FakeGraph().start()
    env = service_env(url, fake.url, tmp_path)
    worker = start_worker(env)
    try:
        in_service: list[object] = []  # the service must only store and enqueue
        app = create_app(
            Settings.from_env(env),
            database=db,
            inbound_handler=lambda *args, **kw: in_service.append(kw["message"]),
        )
        assert app.state.relay is None  # the workers send, not the service
        pnid = number_id()
        clinic, doctor_id = open_clinic(db, pnid)
        with TestClient(app) as client:

            def post(body: bytes, headers: dict[str, str]) -> int:
                return client.post("/webhooks/whatsapp", content=body, headers=headers).status_code

            journey = Journey(db, fake, post, APP_SECRET, clinic, pnid, "919876500201")
            walk_through(journey, doctor_id)
            assert worker.poll() is None
        with db.transaction(ALL_TENANTS, readonly=True) as s:
            statuses = dict(
                s.execute(
                    select(WebhookInbox.status, func.count()).group_by(WebhookInbox.status)
                ).all()
            )
        assert statuses == {"done": 10}  # each of the journey's ten deliveries processed once
        assert in_service == []  # ... by the workers
    finally:
        stop_worker(worker)
        fake.stop()
