"""The rating request after a visit: written once when the token is finished, due N minutes
later (a clinic setting), sent by the relay as the rating list inside the 24-hour window or as
the approved template outside it; the patient's tap, typed digit or template reply is stored
as the visit's rating by the conversation, then an optional comment.

SQLite and PostgreSQL, inside the rolled-back test transaction; the HTTP side is the loopback
fake Graph server.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, update

from core import tenancy
from core.context import Actor
from core.messaging.conversation import handle_inbound
from core.messaging.inbound_types import InboundMessage
from core.queue.events import RATING_REQUEST
from core.queue.lifecycle import finish_token, start_consultation
from db.models import OutboxMessage, Patient, Rating
from tests.fakes.graph import FakeGraph
from tests.support import at_desk
from tests.workers.outbound_world import (
    PHONE,
    VAULT,
    approve_template,
    build_world,
    relay_once,
)
from workers.graph import GraphClient

MINUTE = dt.timedelta(minutes=1)


@pytest.fixture
def fake():
    server = FakeGraph().start()
    yield server
    server.stop()


@pytest.fixture
def client(fake):
    with GraphClient(fake.url, "test-token") as graph:
        yield graph


def finished_visit(session, *, window=True, language="en", minutes=None):
    world = build_world(session, window=window, language=language)
    desk = at_desk(world.clinic, world.clock)
    if minutes is not None:
        tenancy.set_queue_settings(
            session, world.clinic.admin, settings={"rating_request_minutes": minutes}
        )
    start_consultation(session, desk, token_id=world.token_id)
    world.clock.advance(minutes=10)
    finish_token(session, desk, token_id=world.token_id)
    session.execute(  # only the rating request is under test
        update(OutboxMessage)
        .where(
            OutboxMessage.tenant_id == world.clinic.tenant_id,
            OutboxMessage.kind != RATING_REQUEST,
        )
        .values(status="parked")
    )
    return world


def requests_of(session, world):
    return session.scalars(
        select(OutboxMessage).where(
            OutboxMessage.tenant_id == world.clinic.tenant_id,
            OutboxMessage.kind == RATING_REQUEST,
        )
    ).all()


def answer(session, world, kind="text", **fields):
    message = InboundMessage(
        tenant_id=world.clinic.tenant_id,
        phone_number_id=world.phone_number_id,
        wa_message_id=f"wamid.RATE{fields.pop('n', 1)}",
        contact_key=PHONE.lstrip("+"),
        kind=kind,
        received_at=world.clock(),
        wa_id=PHONE.lstrip("+"),
        **fields,
    )
    actor = Actor.system(world.clinic.tenant_id, clock=world.clock)
    handle_inbound(session, actor, message=message, vault=VAULT)


def rating(session, world):
    session.expire_all()
    return session.scalars(select(Rating).where(Rating.token_id == world.token_id)).one_or_none()


def test_finishing_a_visit_writes_one_rating_request_due_half_an_hour_later(session):
    world = finished_visit(session)
    (row,) = requests_of(session, world)
    assert (row.payload, row.dedupe_key) == (
        {"token_id": world.token_id},
        f"rating:{world.token_id}",
    )
    assert (row.created_at, row.available_at) == (world.clock(), world.clock() + 30 * MINUTE)


def test_the_delay_is_a_clinic_setting(session):
    world = finished_visit(session, minutes=90)
    (row,) = requests_of(session, world)
    assert row.available_at == world.clock() + 90 * MINUTE


def test_a_patient_without_whatsapp_gets_no_rating_request(session):
    world = build_world(session)
    patient = session.get(Patient, world.patient_id)
    patient.phone_cipher = None
    patient.phone_hash = None
    session.flush()
    desk = at_desk(world.clinic, world.clock)
    start_consultation(session, desk, token_id=world.token_id)
    finish_token(session, desk, token_id=world.token_id)
    assert requests_of(session, world) == []


def test_inside_the_window_the_rating_list_goes_out_when_due_and_a_tap_is_stored(
    session, fake, client
):
    world = finished_visit(session)
    tenants = [world.clinic.tenant_id]
    relay_once(session, client.post, now=world.clock() + 29 * MINUTE, tenants=tenants)
    assert fake.requests == []  # not due yet
    due = world.clock() + 31 * MINUTE
    relay_once(session, client.post, now=due, tenants=tenants)
    (request,) = fake.requests
    interactive = request.body["interactive"]
    assert interactive["type"] == "list"
    assert "How was your visit to Dr. Asha Rao?" in interactive["body"]["text"]
    rows = [r["id"] for s in interactive["action"]["sections"] for r in s["rows"]]
    assert rows == [f"rate:{world.token_id}:{score}" for score in (5, 4, 3, 2, 1)]
    assert requests_of(session, world)[0].status == "sent"

    world.clock.at = due + 5 * MINUTE
    answer(session, world, "list_reply", reply_id=f"rate:{world.token_id}:5", text="5 of 5")
    assert rating(session, world).score == 5
    answer(session, world, text="Very kind staff", n=2)
    assert rating(session, world).feedback == "Very kind staff"


def test_outside_the_window_the_template_goes_out_and_a_typed_digit_is_stored(
    session, fake, client
):
    world = finished_visit(session, window=False)
    approve_template(session, world.clinic, "qlink_rating_request")
    due = world.clock() + 31 * MINUTE
    relay_once(session, client.post, now=due, tenants=[world.clinic.tenant_id])
    (request,) = fake.requests
    template = request.body["template"]
    assert template["name"] == "qlink_rating_request"
    assert [p["text"] for p in template["components"][0]["parameters"]] == ["Dr. Asha Rao"]

    world.clock.at = due + 60 * MINUTE
    answer(session, world, "template_button", reply_id="4", text="4")
    assert (rating(session, world).score, rating(session, world).feedback) == (4, None)
    answer(session, world, "button_reply", reply_id="rate:skip", text="Skip", n=2)
    answer(session, world, text="2", n=3)  # a second answer changes nothing
    assert rating(session, world).score == 4


def test_without_an_approved_template_it_is_skipped_and_a_digit_is_not_a_rating(
    session, fake, client
):
    world = finished_visit(session, window=False)
    due = world.clock() + 31 * MINUTE
    relay_once(session, client.post, now=due, tenants=[world.clinic.tenant_id])
    assert fake.requests == []
    (row,) = requests_of(session, world)
    assert row.status == "skipped" and "qlink_rating_request" in row.last_error
    world.clock.at = due
    answer(session, world, text="5")  # never asked: the menu, no rating
    assert rating(session, world) is None


def test_a_visit_rated_before_the_request_is_due_is_not_asked_again(session, fake, client):
    world = finished_visit(session)
    answer(session, world, "list_reply", reply_id=f"rate:{world.token_id}:3", text="3 of 5")
    assert rating(session, world).score == 3
    relay_once(
        session, client.post, now=world.clock() + 31 * MINUTE, tenants=[world.clinic.tenant_id]
    )
    sent = [r.body.get("interactive", {}).get("type") for r in fake.requests]
    assert sent == ["button"]  # only the conversation's "comment? Skip" reply
    assert requests_of(session, world)[0].status != "sent"


def test_hindi_rating_list(session, fake, client):
    world = finished_visit(session, language="hi")
    relay_once(
        session, client.post, now=world.clock() + 31 * MINUTE, tenants=[world.clinic.tenant_id]
    )
    interactive = fake.requests[0].body["interactive"]
    assert "विज़िट" in interactive["body"]["text"]
    assert interactive["action"]["sections"][0]["rows"][0]["title"] == "5 में से 5"
