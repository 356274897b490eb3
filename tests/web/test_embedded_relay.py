"""``qlink serve`` without Redis answers patients: the relay runs in the service's lifespan."""

from __future__ import annotations

import datetime as dt
import time

from sqlalchemy import update
from starlette.testclient import TestClient

from db.engine import ALL_TENANTS, Database
from db.migrate import upgrade
from db.models import OutboxMessage
from qlink.asgi import create_app
from qlink.settings import Settings
from tests.fakes.graph import FakeGraph
from tests.support import TEST_DATA_KEY
from tests.workers.outbound_world import build_world


def test_serve_without_redis_sends_the_now_serving_message(fresh_url, tmp_path):
    db = Database.from_url(fresh_url)
    upgrade(db.engine)
    fake = FakeGraph().start()
    try:
        env = {
            "QLINK_DATABASE_URL": fresh_url,
            "QLINK_SECRET_KEY": "s" * 32,
            "QLINK_DATA_KEY": TEST_DATA_KEY,
            "WHATSAPP_GRAPH_URL": fake.url,
            "WHATSAPP_ACCESS_TOKEN": "test-token",
        }
        settings = Settings.from_env(env, var_dir=tmp_path)
        app = create_app(settings, database=db)
        assert app.state.relay is not None
        with TestClient(app):
            with db.transaction(ALL_TENANTS) as session:
                world = build_world(session, slug="embedded")
                session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id == world.outbox_id)
                    .values(available_at=dt.datetime.now(dt.UTC))
                )
            app.state.relay.nudge()
            (request,) = fake.wait_for(1)
            assert request.body["type"] == "text"
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                with db.transaction(ALL_TENANTS, readonly=True) as session:
                    if session.get(OutboxMessage, world.outbox_id).status == "sent":
                        break
                time.sleep(0.05)
            else:
                raise AssertionError("the outbox row was not marked sent")
    finally:
        fake.stop()
        db.dispose()


def test_with_redis_the_service_leaves_sending_to_qlink_worker(tmp_path):
    env = {
        "QLINK_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
        "QLINK_SECRET_KEY": "s" * 32,
        "QLINK_DATA_KEY": TEST_DATA_KEY,
        "QLINK_REDIS_URL": "redis://127.0.0.1:6379/15",
        "WHATSAPP_GRAPH_URL": "http://127.0.0.1:9/v24.0",
        "WHATSAPP_ACCESS_TOKEN": "t",
    }
    app = create_app(Settings.from_env(env, var_dir=tmp_path))
    assert app.state.relay is None
    app.state.database.dispose()
