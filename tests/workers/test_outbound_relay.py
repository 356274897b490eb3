"""Outbound WhatsApp: message shapes against the fake Graph server, the window, errors, intents.

Runs on SQLite and PostgreSQL inside the rolled-back test transaction; the HTTP side is a real
loopback server (``tests.fakes.graph``) spoken to by the real adapter (``workers.graph``).
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from core.messaging import outbound
from core.messaging.graph_body import MessageShapeError, build_body
from core.messaging.messages import (
    SEND,
    Button,
    Buttons,
    Document,
    ListMessage,
    Recipient,
    Row,
    Section,
    Template,
    Text,
    to_payload,
)
from core.messaging.outbound import Action
from db.models import OutboxMessage, Tenant, WhatsAppMessage
from tests.fakes.graph import FakeGraph
from tests.workers.outbound_world import (
    approve_template,
    build_world,
    relay_once,
)
from workers.graph import GraphClient

TO = Recipient(contact_key="919876543210", phone_number_id="1055", wa_id="919876543210")
BSUID = Recipient(contact_key="IN.8812", phone_number_id="1055", user_id="IN.8812")


@pytest.fixture
def fake():
    server = FakeGraph().start()
    yield server
    server.stop()


@pytest.fixture
def client(fake):
    with GraphClient(fake.url, "test-token") as graph:
        yield graph


# --- each message shape, exactly as Meta expects it, through the real client ---


def test_text_goes_to_the_phone_with_bearer_token_and_returns_the_wamid(fake, client):
    outcome = client.send(TO, Text("Token ORT-014, please go to Room 3."), callback_data="42")
    assert outcome == outbound.Sent("wamid.FAKE000001")
    (req,) = fake.requests
    assert req.path == "/v24.0/1055/messages"
    assert req.headers["Authorization"] == "Bearer test-token"
    assert req.body == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "919876543210",
        "type": "text",
        "text": {"body": "Token ORT-014, please go to Room 3.", "preview_url": False},
        "biz_opaque_callback_data": "42",
    }


def test_a_username_contact_is_addressed_by_recipient_not_to(fake, client):
    client.send(BSUID, Text("hi"))
    body = fake.requests[0].body
    assert body["recipient"] == "IN.8812" and "to" not in body


def test_reply_buttons_shape(fake, client):
    msg = Buttons(
        "Confirm?", (Button("yes", "Yes"), Button("no", "No")), header="Dr Rao", footer="QLink"
    )
    client.send(TO, msg)
    assert fake.requests[0].body["interactive"] == {
        "type": "button",
        "header": {"type": "text", "text": "Dr Rao"},
        "body": {"text": "Confirm?"},
        "footer": {"text": "QLink"},
        "action": {
            "buttons": [
                {"type": "reply", "reply": {"id": "yes", "title": "Yes"}},
                {"type": "reply", "reply": {"id": "no", "title": "No"}},
            ]
        },
    }


def test_list_shape_truncates_long_titles(fake, client):
    long_title = "Dr. Venkataraghavan Subramaniam"  # 31 characters
    msg = ListMessage(
        "Pick a doctor",
        "Doctors",
        (Section("Orthopaedics", (Row("d1", long_title, "Mon-Fri " * 20),)),),
    )
    client.send(TO, msg)
    interactive = fake.requests[0].body["interactive"]
    row = interactive["action"]["sections"][0]["rows"][0]
    assert interactive["type"] == "list" and interactive["action"]["button"] == "Doctors"
    assert len(row["title"]) == 24 and row["title"].endswith("…")
    assert len(row["description"]) == 72


def test_template_shape_with_parameters(fake, client):
    client.send(TO, Template("qlink_now_serving", "hi", ("ORT-014", "Room 3")))
    assert fake.requests[0].body["template"] == {
        "name": "qlink_now_serving",
        "language": {"code": "hi", "policy": "deterministic"},
        "components": [
            {
                "type": "body",
                "parameters": [
                    {"type": "text", "text": "ORT-014"},
                    {"type": "text", "text": "Room 3"},
                ],
            }
        ],
    }


def test_document_goes_by_uploaded_media_id(fake, client):
    client.send_document(TO, Document(7, "rx.pdf", "Your prescription"), media_id="media-9")
    assert fake.requests[0].body["document"] == {
        "id": "media-9",
        "filename": "rx.pdf",
        "caption": "Your prescription",
    }


def test_mark_as_read(fake, client):
    assert client.mark_read("1055", "wamid.IN1") == outbound.Sent("wamid.IN1")
    assert fake.requests[0].body == {
        "messaging_product": "whatsapp",
        "status": "read",
        "message_id": "wamid.IN1",
    }


def test_four_buttons_or_eleven_rows_are_rejected_clearly():
    four = Buttons("?", tuple(Button(str(i), f"B{i}") for i in range(4)))
    with pytest.raises(MessageShapeError, match="1 to 3"):
        build_body(TO, four)
    rows = tuple(Row(str(i), f"R{i}") for i in range(11))
    with pytest.raises(MessageShapeError, match="10 rows"):
        build_body(TO, ListMessage("?", "Pick", (Section("All", rows),)))


def test_meta_error_body_becomes_a_typed_failure(fake, client):
    fake.fail_next(400, 131026, "Message undeliverable")
    outcome = client.send(TO, Text("x"))
    assert isinstance(outcome, outbound.Failed)
    assert (outcome.http_status, outcome.code, outcome.details) == (
        400,
        131026,
        "Message undeliverable",
    )
    assert outbound.action_for(outcome) is Action.UNDELIVERABLE


def test_unreachable_server_is_a_retryable_failure():
    with GraphClient("http://127.0.0.1:9/v24.0", "t") as graph:
        outcome = graph.send(TO, Text("x"))
    assert isinstance(outcome, outbound.Failed) and outcome.http_status is None
    assert outbound.action_for(outcome) is Action.RETRY


# --- the relay over the database, on both backends ---


def _journal(session, outbox_id):
    return session.execute(
        select(WhatsAppMessage).where(WhatsAppMessage.outbox_id == outbox_id)
    ).scalar_one()


def test_now_serving_intent_reaches_the_patient_in_english_and_is_recorded(session, fake, client):
    world = build_world(session)
    assert relay_once(
        session, client.post, now=world.clock.at, tenants=[world.clinic.tenant_id]
    ) == [None]
    (req,) = fake.requests
    assert req.body["to"] == "919876543210"
    assert req.body["text"]["body"].startswith("Token ") and "Room 1" in req.body["text"]["body"]
    assert req.body["biz_opaque_callback_data"] == str(world.outbox_id)
    row = session.get(OutboxMessage, world.outbox_id)
    journal = _journal(session, world.outbox_id)
    assert (row.status, row.claimed_by) == ("sent", None)
    assert (journal.status, journal.wa_message_id) == ("sent", "wamid.FAKE000001")
    assert journal.pricing_category == "service"
    assert outbound.usage_by_category(
        session, world.clinic.tenant_id, since=world.clock.at - dt.timedelta(days=1)
    ) == {"service": 1}
    # a second pass finds nothing to send
    assert (
        relay_once(session, client.post, now=world.clock.at, tenants=[world.clinic.tenant_id]) == []
    )
    assert len(fake.requests) == 1


def test_now_serving_in_hindi(session, fake, client):
    world = build_world(session, language="hi")
    relay_once(session, client.post, now=world.clock.at, tenants=[world.clinic.tenant_id])
    body = fake.requests[0].body["text"]["body"]
    assert body.startswith("टोकन ") and "कमरा Room 1" in body


def test_outside_the_window_the_template_goes_instead(session, fake, client):
    world = build_world(session, window=False)
    approve_template(session, world.clinic, "qlink_now_serving")
    relay_once(session, client.post, now=world.clock.at, tenants=[world.clinic.tenant_id])
    body = fake.requests[0].body
    assert body["type"] == "template" and body["template"]["name"] == "qlink_now_serving"
    journal = _journal(session, world.outbox_id)
    assert (journal.msg_type, journal.pricing_category) == ("template", "utility")


def test_outside_the_window_without_template_nothing_is_sent_and_it_is_recorded(
    session, fake, client
):
    world = build_world(session, window=False)
    relay_once(session, client.post, now=world.clock.at, tenants=[world.clinic.tenant_id])
    row = session.get(OutboxMessage, world.outbox_id)
    assert fake.requests == []
    assert row.status == "skipped" and "24-hour window" in row.last_error


def test_131047_switches_to_the_template(session, fake, client):
    world = build_world(session)  # QLink thinks the window is open; Meta disagrees
    approve_template(session, world.clinic, "qlink_now_serving")
    fake.fail_next(400, 131047, "Re-engagement message")
    assert relay_once(
        session, client.post, now=world.clock.at, tenants=[world.clinic.tenant_id]
    ) == [Action.TEMPLATE]
    relay_once(session, client.post, now=world.clock.at, tenants=[world.clinic.tenant_id])
    assert [r.body["type"] for r in fake.requests] == ["text", "template"]
    assert session.get(OutboxMessage, world.outbox_id).status == "sent"


def test_server_errors_retry_with_backoff_then_fail(session, fake, client):
    world = build_world(session)
    fake.fail_next(500, 131000, "Something went wrong", times=outbound.MAX_ATTEMPTS)
    now = world.clock.at
    delays = []
    for _ in range(outbound.MAX_ATTEMPTS):
        relay_once(session, client.post, now=now, tenants=[world.clinic.tenant_id])
        row = session.get(OutboxMessage, world.outbox_id)
        if row.status != "pending":
            break
        delays.append((row.available_at - now).total_seconds())
        now = row.available_at
    assert row.status == "failed" and row.attempts == outbound.MAX_ATTEMPTS
    assert len(fake.requests) == outbound.MAX_ATTEMPTS
    assert delays[0] <= outbound.BASE_BACKOFF < delays[-1]  # grows exponentially
    assert _journal(session, world.outbox_id).status == "failed"


def test_131026_marks_undeliverable_and_later_sends_to_the_contact_are_skipped(
    session, fake, client
):
    world = build_world(session)
    fake.fail_next(400, 131026, "Message undeliverable")
    assert relay_once(
        session, client.post, now=world.clock.at, tenants=[world.clinic.tenant_id]
    ) == [Action.UNDELIVERABLE]
    assert _journal(session, world.outbox_id).error_code == 131026
    recipient = Recipient("919876543210", world.phone_number_id, wa_id="919876543210")
    session.add(
        OutboxMessage(
            tenant_id=world.clinic.tenant_id,
            kind=SEND,
            payload=to_payload(recipient, Text("hello")),
            status="pending",
            attempts=0,
            available_at=world.clock.at,
            created_at=world.clock.at,
        )
    )
    session.flush()
    relay_once(session, client.post, now=world.clock.at, tenants=[world.clinic.tenant_id])
    assert len(fake.requests) == 1


def test_368_stops_every_send_of_the_tenant(session, fake, client):
    world = build_world(session)
    other = build_world(session, slug="clinic-other")
    fake.fail_next(403, 368, "Temporarily blocked for policies violations")
    relay_once(session, client.post, now=world.clock.at, tenants=[], ids=[world.outbox_id])
    assert outbound.tenant_blocked(session, world.clinic.tenant_id)
    assert session.get(Tenant, world.clinic.tenant_id).settings[outbound.BLOCK_KEY]["code"] == 368
    # the blocked clinic's next message is not sent; another clinic's still is
    session.get(OutboxMessage, world.outbox_id).status = "pending"
    session.execute(
        WhatsAppMessage.__table__.delete().where(WhatsAppMessage.outbox_id == world.outbox_id)
    )
    session.flush()
    both = [world.clinic.tenant_id, other.clinic.tenant_id]
    relay_once(session, client.post, now=world.clock.at, tenants=both)
    assert len(fake.requests) == 2
    assert session.get(OutboxMessage, world.outbox_id).status == "blocked"
    assert session.get(OutboxMessage, other.outbox_id).status == "sent"


def test_131056_paces_the_pair_without_counting_a_failure(session, fake, client):
    world = build_world(session)
    fake.fail_next(400, 131056, "Pair rate limit hit")
    assert relay_once(
        session, client.post, now=world.clock.at, tenants=[world.clinic.tenant_id]
    ) == [Action.PACE]
    row = session.get(OutboxMessage, world.outbox_id)
    assert row.status == "pending"
    assert row.available_at - world.clock.at >= outbound.PAIR_PACE


def test_status_webhooks_move_the_lifecycle_forward_only(session, fake, client):
    world = build_world(session)
    relay_once(session, client.post, now=world.clock.at, tenants=[world.clinic.tenant_id])
    tenant_id, at = world.clinic.tenant_id, world.clock.at
    for status in ("delivered", "read", "sent"):
        assert outbound.record_status(
            session, tenant_id=tenant_id, wamid="wamid.FAKE000001", status=status, at=at
        )
    assert _journal(session, world.outbox_id).status == "read"


def test_a_reclaimed_row_whose_status_webhook_arrived_is_not_sent_again(session, fake, client):
    world = build_world(session)
    now = world.clock.at
    from core.messaging import relay
    from tests.workers.outbound_world import VAULT

    (outbox_id,) = relay.claim_due(session, worker="dead", now=now, outbox_ids=[world.outbox_id])
    attempt = relay.begin_send(session, outbox_id, worker="dead", vault=VAULT, now=now)
    client.post(attempt.phone_number_id, attempt.body)  # Meta took it; the worker then died
    outbound.record_status(  # Meta's "sent" webhook names the outbox id
        session,
        tenant_id=world.clinic.tenant_id,
        wamid=fake.wamids[0],
        status="sent",
        at=now,
        callback_data=attempt.body["biz_opaque_callback_data"],
    )
    session.flush()
    assert (
        relay_once(session, client.post, now=now, tenants=[world.clinic.tenant_id]) == []
    )  # the lease has not run out
    later = now + dt.timedelta(minutes=1)
    assert relay_once(session, client.post, now=later, tenants=[world.clinic.tenant_id]) == [None]
    assert len(fake.requests) == 1
    assert session.get(OutboxMessage, outbox_id).status == "sent"
