"""Meta's policy answers: 131049 drops stale queue updates (reminders keep the 24 h hold), and
``qlink whatsapp unblock`` clears a 368 block with an audit entry.

SQLite and PostgreSQL inside the rolled-back transaction; the CLI test on a temp SQLite file.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select

from core.errors import NotFound
from core.messaging import outbound
from core.messaging.blocking import unblock_whatsapp
from core.messaging.outbound import Action
from core.messaging.reminders import write_reminders
from db.engine import ALL_TENANTS, Database
from db.migrate import upgrade
from db.models import AuditEntry, OutboxMessage, Tenant, WhatsAppMessage
from qlink import cli
from tests.fakes.graph import FakeGraph
from tests.support import make_clinic
from tests.workers.outbound_world import approve_template, build_world, relay_once
from tests.workers.reminder_world import reminder_rows, reminder_world
from workers.graph import GraphClient

HEALTHY = "Message failed to send because more than 24 hours have passed"  # Meta's 131049 title


@pytest.fixture
def fake():
    server = FakeGraph().start()
    yield server
    server.stop()


@pytest.fixture
def client(fake):
    with GraphClient(fake.url, "test-token") as graph:
        yield graph


def test_131049_drops_a_queue_update_instead_of_holding_it(session, fake, client):
    world = build_world(session)
    fake.fail_next(400, 131049, HEALTHY)
    actions = relay_once(session, client.post, now=world.clock.at, tenants=[world.clinic.tenant_id])
    assert actions == [Action.HOLD]
    row = session.get(OutboxMessage, world.outbox_id)
    assert row.status == "dropped" and row.last_error.startswith("131049")
    assert "stale" in row.last_error
    journal = session.execute(
        select(WhatsAppMessage).where(WhatsAppMessage.outbox_id == world.outbox_id)
    ).scalar_one()
    assert (journal.status, journal.error_code) == ("failed", 131049)
    later = world.clock.at + dt.timedelta(days=2)
    relay_once(session, client.post, now=later, tenants=[world.clinic.tenant_id])
    assert len(fake.requests) == 1  # never sent again


def test_131049_holds_a_reminder_for_24_hours(session, fake, client):
    world = reminder_world(session)
    approve_template(session, world.clinic, "qlink_reminder_24h")
    now = world.slot - dt.timedelta(hours=23)
    write_reminders(session, now=now)
    fake.fail_next(400, 131049, HEALTHY)
    relay_once(session, client.post, now=now, tenants=[world.clinic.tenant_id])
    (row,) = reminder_rows(session, world.clinic)
    assert row.status == "pending" and row.available_at == now + outbound.HOLD_131049


def test_unblock_clears_the_block_and_audits_it(session, clinic_a, clinic_b):
    now = dt.datetime(2026, 12, 7, 4, 0, tzinfo=dt.UTC)
    for clinic in (clinic_a, clinic_b):
        outbound.block_tenant(session, clinic.tenant_id, code=368, now=now)
    assert unblock_whatsapp(session, slug="clinic-a")
    assert not outbound.tenant_blocked(session, clinic_a.tenant_id)
    assert outbound.tenant_blocked(session, clinic_b.tenant_id)  # the other clinic stays blocked
    entry = session.execute(
        select(AuditEntry).where(
            AuditEntry.tenant_id == clinic_a.tenant_id, AuditEntry.action == "whatsapp.unblock"
        )
    ).scalar_one()
    assert entry.entity == "tenant"
    assert not unblock_whatsapp(session, slug="clinic-a")  # nothing to clear, nothing audited
    with pytest.raises(NotFound):
        unblock_whatsapp(session, slug="no-such-clinic")


def test_qlink_whatsapp_unblock_command(monkeypatch, tmp_path: Path, capsys):
    for name in ("QLINK_DATABASE_URL", "QLINK_DATA_KEY", "QLINK_REDIS_URL", "QLINK_VAR_DIR"):
        monkeypatch.delenv(name, raising=False)
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("QLINK_HOME", str(tmp_path / "var"))
    monkeypatch.setenv("QLINK_DATABASE_URL", url)
    database = Database.from_url(url)
    upgrade(database.engine)
    with database.transaction(ALL_TENANTS) as s:
        clinic = make_clinic(s, "blocked-clinic")
        outbound.block_tenant(s, clinic.tenant_id, code=368, now=dt.datetime.now(dt.UTC))
    assert cli.main(["whatsapp", "unblock", "--clinic", "blocked-clinic"]) == 0
    assert "resumed" in capsys.readouterr().out
    with database.transaction(ALL_TENANTS) as s:
        settings = s.execute(
            select(Tenant.settings).where(Tenant.slug == "blocked-clinic")
        ).scalar()
    database.dispose()
    assert outbound.BLOCK_KEY not in settings
    assert cli.main(["whatsapp", "unblock", "--clinic", "nowhere"]) == 1
