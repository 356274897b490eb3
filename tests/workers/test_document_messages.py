"""A stored document goes out over WhatsApp: uploaded to Meta's media endpoint, then sent.

Real adapter (``workers.graph``) against the fake Graph server; the relay's three steps run in
the rolled-back test transaction (SQLite and PostgreSQL).
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, update

from core.documents import store
from core.messaging import outbound, relay
from core.messaging.messages import SEND, Document, Recipient, to_payload
from core.messaging.notify import DOCUMENT_TEMPLATE
from core.messaging.outbound import Action
from db.models import OutboxMessage, WhatsAppMessage
from tests.fakes.graph import FakeGraph
from tests.workers.outbound_world import VAULT, approve_template, build_world
from workers.graph import GraphClient
from workers.outbox import deliver

PDF = b"%PDF-1.7\n" + bytes(range(256)) * 8 + b"\n%%EOF\n"


@pytest.fixture
def fake():
    server = FakeGraph().start()
    yield server
    server.stop()


@pytest.fixture
def client(fake):
    with GraphClient(fake.url, "test-token") as graph:
        yield graph


def relay_documents(session, client, *, now, tenant_id, worker="doc-worker"):
    """One relay pass over the tenant's pending rows, uploading media as the workers do."""
    ids = list(
        session.execute(
            select(OutboxMessage.id).where(OutboxMessage.tenant_id == tenant_id)
        ).scalars()
    )
    actions = []
    for outbox_id in relay.claim_due(session, worker=worker, now=now, outbox_ids=ids):
        attempt = relay.begin_send(session, outbox_id, worker=worker, vault=VAULT, now=now)
        if attempt is None:
            actions.append(None)
            continue
        attempt, outcome = deliver(attempt, client.post, client.upload_media)
        actions.append(relay.finish_send(session, attempt, outcome, now=now))
    session.flush()
    session.expire_all()
    return actions


def stored_receipt(session, world, caption="Receipt R-0001"):
    """A stored receipt queued for WhatsApp; the world's other intents are parked."""
    park(session, world)
    desk = world.clinic.receptionist
    doc = store.save_document(
        session,
        desk,
        patient_id=world.patient_id,
        kind="receipt",
        filename="R-0001.pdf",
        content=PDF,
    )
    row = store.send_document(session, desk, document_id=doc.id, caption=caption)
    return doc, row


def park(session, world):
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.tenant_id == world.clinic.tenant_id)
        .values(status="parked")
    )


def test_receipt_is_uploaded_then_sent_as_a_document_with_the_media_id(session, fake, client):
    world = build_world(session)
    _, row = stored_receipt(session, world)
    actions = relay_documents(session, client, now=world.clock.at, tenant_id=world.clinic.tenant_id)
    assert actions == [None]
    (upload,) = fake.uploads
    assert upload.path == f"/v24.0/{world.phone_number_id}/media"
    assert upload.fields == {"messaging_product": "whatsapp", "type": "application/pdf"}
    assert (upload.filename, upload.mime, upload.content) == ("R-0001.pdf", "application/pdf", PDF)
    (sent,) = fake.requests
    assert sent.path == f"/v24.0/{world.phone_number_id}/messages"
    assert sent.body == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "919876543210",
        "type": "document",
        "document": {"id": upload.media_id, "filename": "R-0001.pdf", "caption": "Receipt R-0001"},
        "biz_opaque_callback_data": str(row.id),
    }
    assert session.get(OutboxMessage, row.id).status == "sent"
    journal = session.execute(
        select(WhatsAppMessage).where(WhatsAppMessage.outbox_id == row.id)
    ).scalar_one()
    assert (journal.msg_type, journal.status, journal.wa_message_id) == (
        "document",
        "sent",
        "wamid.FAKE000001",
    )
    assert journal.body["document"]["id"] == upload.media_id


def test_outside_the_window_the_approved_document_template_carries_the_file(session, fake, client):
    world = build_world(session, window=False)
    approve_template(session, world.clinic, DOCUMENT_TEMPLATE)
    _, row = stored_receipt(session, world)
    relay_documents(session, client, now=world.clock.at, tenant_id=world.clinic.tenant_id)
    (upload,) = fake.uploads
    (sent,) = fake.requests
    assert sent.body["type"] == "template"
    assert sent.body["template"] == {
        "name": DOCUMENT_TEMPLATE,
        "language": {"code": "en", "policy": "deterministic"},
        "components": [
            {
                "type": "header",
                "parameters": [
                    {
                        "type": "document",
                        "document": {"id": upload.media_id, "filename": "R-0001.pdf"},
                    }
                ],
            },
            {"type": "body", "parameters": [{"type": "text", "text": "Receipt R-0001"}]},
        ],
    }
    assert session.get(OutboxMessage, row.id).status == "sent"


def test_outside_the_window_without_a_template_nothing_is_uploaded_and_the_reason_kept(
    session, fake, client
):
    world = build_world(session, window=False)
    _, row = stored_receipt(session, world)
    relay_documents(session, client, now=world.clock.at, tenant_id=world.clinic.tenant_id)
    assert fake.uploads == [] and fake.requests == []
    row = session.get(OutboxMessage, row.id)
    assert row.status == "skipped"
    assert "24-hour window" in row.last_error and DOCUMENT_TEMPLATE in row.last_error


def test_a_failed_upload_is_retried_and_the_document_sent_once(session, fake, client):
    world = build_world(session)
    _, row = stored_receipt(session, world)
    fake.fail_next_upload(500, 131053, "Media upload error")
    first = relay_documents(session, client, now=world.clock.at, tenant_id=world.clinic.tenant_id)
    assert first == [Action.RETRY]
    assert fake.requests == []  # no message without its media
    later = world.clock.at + dt.timedelta(minutes=10)
    assert relay_documents(session, client, now=later, tenant_id=world.clinic.tenant_id) == [None]
    assert len(fake.uploads) == 1 and len(fake.requests) == 1  # uploads: the accepted ones
    assert session.get(OutboxMessage, row.id).status == "sent"


def test_a_relay_dying_after_meta_took_the_document_does_not_send_it_again(session, fake, client):
    world = build_world(session)
    _, row = stored_receipt(session, world)
    now, tenant = world.clock.at, world.clinic.tenant_id
    (claimed,) = relay.claim_due(session, worker="w1", now=now, outbox_ids=[row.id])
    attempt = relay.begin_send(session, claimed, worker="w1", vault=VAULT, now=now)
    attempt, outcome = deliver(attempt, client.post, client.upload_media)
    # w1 dies here: no finish_send. Meta's "sent" status webhook names the outbox id.
    outbound.record_status(
        session,
        tenant_id=tenant,
        wamid=outcome.wamid,
        status="sent",
        at=now,
        callback_data=str(row.id),
    )
    later = now + relay.LEASE + dt.timedelta(seconds=1)
    assert relay_documents(session, client, now=later, tenant_id=tenant, worker="w2") == [None]
    assert len(fake.requests) == 1 and len(fake.uploads) == 1
    assert session.get(OutboxMessage, row.id).status == "sent"


def test_a_conversation_reply_carrying_a_document_is_uploaded_too(session, fake, client):
    world = build_world(session)
    doc, _ = stored_receipt(session, world)
    park(session, world)
    recipient = Recipient(
        contact_key="919876543210",
        phone_number_id=world.phone_number_id,
        patient_id=world.patient_id,
        wa_id="919876543210",
    )
    session.add(
        OutboxMessage(
            tenant_id=world.clinic.tenant_id,
            kind=SEND,
            payload=to_payload(recipient, Document(doc.id, "rx.pdf", "Your prescription")),
            available_at=world.clock.at,
            created_at=world.clock.at,
        )
    )
    session.flush()
    relay_documents(session, client, now=world.clock.at, tenant_id=world.clinic.tenant_id)
    (sent,) = fake.requests
    assert sent.body["document"] == {
        "id": fake.uploads[0].media_id,
        "filename": "rx.pdf",
        "caption": "Your prescription",
    }


def test_a_retracted_document_is_skipped_with_its_reason(session, fake, client):
    world = build_world(session)
    doc, row = stored_receipt(session, world)
    doc.retracted = True
    session.flush()
    relay_documents(session, client, now=world.clock.at, tenant_id=world.clinic.tenant_id)
    assert fake.uploads == [] and fake.requests == []
    row = session.get(OutboxMessage, row.id)
    assert row.status == "skipped" and "document" in row.last_error
