"""Blue ticks: a handled inbound message is marked read through the outbox, never inline.

The inbound step writes a ``whatsapp.mark_read`` outbox row (once per wamid, redeliveries
included); the relay posts Meta's mark-as-read body to the fake Graph server after commit.
"""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import select, update

from core.messaging.inbound import process_delivery, record_delivery
from core.messaging.messages import MARK_READ
from core.messaging.outbound import Action
from db.models import OutboxMessage
from tests.fakes.graph import FakeGraph
from tests.web.whatsapp_support import change, contact, delivery, text_message
from tests.workers.outbound_world import VAULT, build_world
from tests.workers.test_document_messages import relay_documents
from workers.graph import GraphClient

SENDER = "919876543210"


def _deliver(session, world, message, now):
    body = delivery(change(world.phone_number_id, messages=[message], contacts=[contact(SENDER)]))
    inbox_id = record_delivery(session, json.dumps(body), now=now)
    return process_delivery(
        session, inbox_id, vault=VAULT, handler=lambda *a, **k: None, clock=lambda: now
    )


def _mark_reads(session, tenant_id):
    return list(
        session.execute(
            select(OutboxMessage).where(
                OutboxMessage.tenant_id == tenant_id, OutboxMessage.kind == MARK_READ
            )
        ).scalars()
    )


def test_a_handled_message_is_marked_read_once_by_the_relay(session):
    world = build_world(session)
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.tenant_id == world.clinic.tenant_id)
        .values(status="parked")
    )
    now = world.clock.at
    message = text_message("hi", sender=SENDER)
    assert _deliver(session, world, message, now).handled == 1
    assert _deliver(session, world, message, now).duplicates == 1  # Meta redelivers
    (row,) = _mark_reads(session, world.clinic.tenant_id)
    assert row.status == "pending"  # nothing was sent while processing the webhook
    assert row.payload == {"phone_number_id": world.phone_number_id, "message_id": message["id"]}

    fake = FakeGraph().start()
    try:
        with GraphClient(fake.url, "test-token") as client:
            assert relay_documents(session, client, now=now, tenant_id=world.clinic.tenant_id) == [
                None
            ]
            (request,) = fake.requests
            assert request.path == f"/v24.0/{world.phone_number_id}/messages"
            assert request.body == {
                "messaging_product": "whatsapp",
                "status": "read",
                "message_id": message["id"],
            }
            assert session.get(OutboxMessage, row.id).status == "sent"
            # sent once: a second pass finds nothing to do
            assert relay_documents(session, client, now=now, tenant_id=world.clinic.tenant_id) == []
    finally:
        fake.stop()


def test_a_refused_mark_read_is_retried_then_given_up(session):
    world = build_world(session)
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.tenant_id == world.clinic.tenant_id)
        .values(status="parked")
    )
    now = world.clock.at
    _deliver(session, world, text_message("hi", sender=SENDER), now)
    fake = FakeGraph().start()
    try:
        with GraphClient(fake.url, "test-token") as client:
            fake.fail_next(500, 131000, "Something went wrong")
            tenant = world.clinic.tenant_id
            assert relay_documents(session, client, now=now, tenant_id=tenant) == [Action.RETRY]
            fake.fail_next(400, 100, "Invalid parameter")
            later = now + dt.timedelta(minutes=10)
            assert relay_documents(session, client, now=later, tenant_id=tenant) == [Action.FAIL]
            (row,) = _mark_reads(session, tenant)
            assert row.status == "failed" and "100" in row.last_error
    finally:
        fake.stop()


def test_a_reaction_is_not_marked_read(session):
    world = build_world(session)
    now = world.clock.at
    reaction = {
        "id": "wamid.REACT1",
        "timestamp": "1796000000",
        "type": "reaction",
        "from": SENDER,
        "reaction": {"message_id": "wamid.X", "emoji": "👍"},
    }
    _deliver(session, world, reaction, now)
    assert _mark_reads(session, world.clinic.tenant_id) == []
