"""/metrics carries the owner's console's system-health figures and statement timings."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import insert
from starlette.testclient import TestClient

from db.engine import ALL_TENANTS
from db.models import OutboxMessage, WhatsAppMessage
from qlink.asgi import create_app
from tests.web.conftest import settings_for
from tests.web.test_metrics import samples


def test_metrics_carry_backlog_lag_delivery_webhooks_and_db_time(db, tmp_path, floor):
    now = dt.datetime.now(dt.UTC)
    with db.transaction(ALL_TENANTS) as session:
        tenant = floor.tenant_id
        session.execute(
            insert(OutboxMessage),
            [
                {
                    "tenant_id": tenant,
                    "kind": "test.health_metrics",
                    "payload": {},
                    "status": "pending",
                    "available_at": now - dt.timedelta(minutes=5),
                    "created_at": now - dt.timedelta(minutes=5),
                }
            ],
        )
        session.execute(
            insert(WhatsAppMessage),
            [
                {
                    "tenant_id": tenant,
                    "direction": "out",
                    "phone_number_id": "1",
                    "contact_key": f"9190000{i:05d}",
                    "msg_type": "template",
                    "status": status,
                    "created_at": now - dt.timedelta(minutes=3),
                }
                for i, status in enumerate(["delivered", "read", "failed"])
            ],
        )
    with TestClient(create_app(settings_for(db, tmp_path), database=db)) as client:
        client.get("/healthz")
        got = samples(client.get("/metrics").text)
    assert got[("qlink_outbox_backlog", ())] >= 1
    assert got[("qlink_worker_lag_seconds", ())] >= 290
    assert got[("qlink_messages_outbound", (("outcome", "failed"),))] >= 1
    assert got[("qlink_messages_outbound", (("outcome", "delivered"),))] >= 2
    assert 0 < got[("qlink_message_delivery_ratio", ())] < 1
    assert ("qlink_webhook_deliveries", (("status", "done"),)) in got
    assert got[("qlink_db_statement_duration_seconds_count", ())] >= 1
