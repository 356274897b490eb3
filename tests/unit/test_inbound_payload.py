"""Meta's message shapes become ``InboundMessage`` kinds; unknown fields and absent ids are fine."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from core.errors import ValidationFailed
from core.messaging.inbound_payload import Contact, Message, parse_delivery, sender_of, to_inbound

NOW = dt.datetime(2026, 12, 7, 4, 0, tzinfo=dt.UTC)
FLOW = json.dumps({"flow_token": "ft-1", "slot": "2026-12-07T06:30:00Z"})
BASE = {"id": "wamid.X1", "from": "919876500001", "timestamp": "1796000000", "unknown": {"a": 1}}
SHAPES = [
    ({"type": "text", "text": {"body": "hi"}}, "text", {"text": "hi"}),
    (
        {
            "type": "interactive",
            "context": {"from": "1", "id": "wamid.OURS"},
            "interactive": {
                "type": "list_reply",
                "list_reply": {"id": "doc:7", "title": "Dr Rao", "description": "x"},
            },
        },
        "list_reply",
        {"reply_id": "doc:7", "text": "Dr Rao", "context_id": "wamid.OURS"},
    ),
    (
        {
            "type": "interactive",
            "interactive": {"type": "button_reply", "button_reply": {"id": "yes", "title": "Yes"}},
        },
        "button_reply",
        {"reply_id": "yes", "text": "Yes"},
    ),
    (
        {"type": "button", "button": {"payload": "cancel:12", "text": "Cancel"}},
        "template_button",
        {"reply_id": "cancel:12", "text": "Cancel"},
    ),
    (
        {
            "type": "interactive",
            "interactive": {
                "type": "nfm_reply",
                "nfm_reply": {"name": "flow", "body": "Sent", "response_json": FLOW},
            },
        },
        "flow_reply",
        {"flow_token": "ft-1", "flow_response": json.loads(FLOW)},
    ),
    ({"type": "location", "location": {"latitude": 12.9, "longitude": 77.6}}, "location", {}),
    ({"type": "image", "image": {"id": "m1", "mime_type": "image/jpeg"}}, "media", {}),
    ({"type": "audio", "audio": {"id": "m2", "voice": True}}, "media", {}),
    ({"type": "document", "document": {"id": "m3"}}, "media", {}),
    ({"type": "reaction", "reaction": {"message_id": "wamid.OURS", "emoji": "👍"}}, "reaction", {}),
    ({"type": "order", "order": {}}, "unsupported", {}),
    (
        {
            "type": "interactive",
            "interactive": {"type": "nfm_reply", "nfm_reply": {"response_json": "{bad"}},
        },
        "flow_reply",
        {"flow_token": None, "flow_response": {}},
    ),
]


@pytest.mark.parametrize(
    "shape,kind,fields", SHAPES, ids=[f"{s[1]}-{i}" for i, s in enumerate(SHAPES)]
)
def test_each_message_type_is_parsed(shape, kind, fields):
    message = Message.model_validate({**BASE, **shape})
    got = to_inbound(
        message, sender_of(message, []), tenant_id=1, phone_number_id="1000", received_at=NOW
    )
    assert got.kind == kind
    assert got.received_at == dt.datetime.fromtimestamp(1796000000, dt.UTC)
    for name, value in fields.items():
        assert getattr(got, name) == value


def test_sender_identity_comes_from_the_message_and_its_contact():
    message = Message.model_validate(
        {"id": "w", "type": "text", "text": {"body": "x"}, "from": "919876500001"}
    )
    contacts = [Contact(wa_id="919876500001", user_id="IN.ABC")]
    got = to_inbound(
        message, sender_of(message, contacts), tenant_id=1, phone_number_id="1", received_at=NOW
    )
    assert (got.contact_key, got.wa_id, got.user_id) == ("919876500001", "919876500001", "IN.ABC")


def test_a_message_without_any_sender_is_refused():
    message = Message.model_validate({"id": "w", "type": "text", "text": {"body": "x"}})
    with pytest.raises(ValidationFailed):
        to_inbound(
            message, sender_of(message, []), tenant_id=1, phone_number_id="1", received_at=NOW
        )


def test_a_body_that_is_not_the_envelope_is_a_validation_error():
    with pytest.raises(ValidationFailed):
        parse_delivery('{"entry": "not a list"}')
    assert parse_delivery('{"object": "x", "extra": 1}').entry == []
