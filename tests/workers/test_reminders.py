"""Appointment reminders 24 h and 1 h before: written once, only with contact and consent,
sent by the relay as the approved template outside the 24-hour window.

SQLite and PostgreSQL, inside the rolled-back test transaction; the HTTP side is the loopback
fake Graph server.
"""

from __future__ import annotations

import datetime as dt

import pytest

from core.messaging.reminders import REMINDER_1H, REMINDER_24H, write_reminders
from core.patients.consent import ConsentGrant, record_consent
from core.scheduling.booking import cancel_appointment
from db.models import OutboxMessage
from tests.fakes.graph import FakeGraph
from tests.support import at_desk
from tests.workers.outbound_world import approve_template, relay_once
from tests.workers.reminder_world import reminder_rows, reminder_world
from workers.graph import GraphClient

HOUR = dt.timedelta(hours=1)


@pytest.fixture
def fake():
    server = FakeGraph().start()
    yield server
    server.stop()


@pytest.fixture
def client(fake):
    with GraphClient(fake.url, "test-token") as graph:
        yield graph


def test_24h_then_1h_reminder_each_written_once(session):
    world = reminder_world(session)
    assert write_reminders(session, now=world.slot - 25 * HOUR) >= 0
    assert reminder_rows(session, world.clinic) == []  # more than 24 h away: nothing yet
    for minutes_before in (23 * 60 + 30, 23 * 60, 2 * 60):  # every minute's run, and again
        write_reminders(session, now=world.slot - dt.timedelta(minutes=minutes_before))
    write_reminders(session, now=world.slot - dt.timedelta(minutes=50))
    write_reminders(session, now=world.slot - dt.timedelta(minutes=10))
    rows = reminder_rows(session, world.clinic)
    assert [(r.kind, r.dedupe_key, r.payload) for r in rows] == [
        (
            REMINDER_24H,
            f"reminder:{world.appointment_id}:24h",
            {"appointment_id": world.appointment_id},
        ),
        (
            REMINDER_1H,
            f"reminder:{world.appointment_id}:1h",
            {"appointment_id": world.appointment_id},
        ),
    ]
    assert all(r.status == "pending" for r in rows)


@pytest.mark.parametrize(
    ("phone", "consent"),
    [(None, True), ("+919876543210", None), ("+919876543210", False)],
    ids=["no-whatsapp-contact", "no-consent", "consent-refused"],
)
def test_no_reminder_without_contact_or_consent(session, phone, consent):
    world = reminder_world(session, phone=phone, consent=consent)
    write_reminders(session, now=world.slot - 2 * HOUR)
    assert reminder_rows(session, world.clinic) == []


def test_withdrawn_consent_stops_reminders(session):
    world = reminder_world(session)
    desk = at_desk(world.clinic, lambda: world.slot - 3 * HOUR)
    record_consent(session, desk, world.patient_id, grant=ConsentGrant("reminders", granted=False))
    write_reminders(session, now=world.slot - 2 * HOUR)
    assert reminder_rows(session, world.clinic) == []


def test_cancelled_appointment_is_not_reminded(session):
    world = reminder_world(session)
    cancel_appointment(
        session, world.clinic.receptionist, appointment_id=world.appointment_id, reason="ill"
    )
    write_reminders(session, now=world.slot - 2 * HOUR)
    assert reminder_rows(session, world.clinic) == []


def test_reminder_goes_out_as_the_approved_template_with_its_parameters(session, fake, client):
    world = reminder_world(session)
    approve_template(session, world.clinic, "qlink_reminder_24h")
    now = world.slot - 20 * HOUR
    write_reminders(session, now=now)
    relay_once(session, client.post, now=now, tenants=[world.clinic.tenant_id])
    (request,) = fake.requests
    template = request.body["template"]
    assert request.body["to"] == "919876543210"
    assert template["name"] == "qlink_reminder_24h"
    params = [p["text"] for p in template["components"][0]["parameters"]]
    assert params == ["Meera Nair", "Dr. Asha Rao", "08 Dec 2026, 10:00", world.clinic.branch.name]
    assert reminder_rows(session, world.clinic)[0].status == "sent"


def test_reminder_without_an_approved_template_is_skipped_not_sent(session, fake, client):
    world = reminder_world(session)
    now = world.slot - 30 * dt.timedelta(minutes=1)
    write_reminders(session, now=now)
    relay_once(session, client.post, now=now, tenants=[world.clinic.tenant_id])
    assert fake.requests == []
    (row,) = reminder_rows(session, world.clinic)
    assert row.status == "skipped" and "qlink_reminder_1h" in row.last_error


def test_hindi_text_inside_the_window(session, fake, client):
    from tests.workers.outbound_world import open_window

    world = reminder_world(session, language="hi")
    now = world.slot - 20 * HOUR
    open_window(session, world.clinic, now)
    write_reminders(session, now=now)
    relay_once(session, client.post, now=now, tenants=[world.clinic.tenant_id])
    body = fake.requests[0].body["text"]["body"]
    assert "Meera Nair" in body and "Dr. Asha Rao" in body and "अपॉइंटमेंट" in body
    assert session.get(OutboxMessage, reminder_rows(session, world.clinic)[0].id).status == "sent"


def test_hindi_reminder_template_gives_the_time_in_hindi(session, fake, client):
    world = reminder_world(session, language="hi")
    approve_template(session, world.clinic, "qlink_reminder_24h", language="hi")
    now = world.slot - 20 * HOUR
    write_reminders(session, now=now)
    relay_once(session, client.post, now=now, tenants=[world.clinic.tenant_id])
    template = fake.requests[0].body["template"]
    params = [p["text"] for p in template["components"][0]["parameters"]]
    assert template["language"]["code"] == "hi"
    assert params[2] == "8 दिसंबर 2026, 10:00"
