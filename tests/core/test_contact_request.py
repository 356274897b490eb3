"""A username-only sender (no phone) is asked for it with request_contact_info before booking."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import select

from core import tenancy
from core.clock import FrozenClock
from core.messaging.conversation import contact
from core.messaging.graph_body import build_body
from core.messaging.inbound_payload import Message as Payload
from core.messaging.inbound_payload import sender_of, to_inbound
from core.messaging.messages import ContactRequest, ListMessage, Recipient
from core.patients.registry import register_patient
from db.models import Patient
from tests.core.conversation_support import NOW, NUMBER, VAULT, Chat, rows, texts
from tests.support import add_doctor

BSUID = "IN.8812003456"


@pytest.fixture
def chat(session, clinic_a):
    tenancy.register_whatsapp_number(
        session, clinic_a.admin, phone_number_id=NUMBER, branch_id=clinic_a.branch.id
    )
    add_doctor(session, clinic_a)
    clock = FrozenClock(NOW)
    desk = dataclasses.replace(clinic_a.system, clock=clock)
    register_patient(session, desk, vault=VAULT, full_name="Meena Iyer", wa_bsuid=BSUID)
    return Chat(session, clinic_a, clock, wa_id=None, user_id=BSUID)


def _patient(session) -> Patient:
    return session.scalars(select(Patient).where(Patient.wa_bsuid == BSUID)).one()


def test_booking_without_a_phone_asks_for_it_then_books_with_the_shared_one(session, chat):
    (ask,) = chat.tap("menu:book")
    assert isinstance(ask, ContactRequest)
    assert "phone number" in ask.body
    assert chat.state().state == contact.ASK_PHONE

    answer = chat.deliver(chat.inbound("contacts", shared_phone="919812345678"))
    assert "your phone number is saved" in texts(answer)
    assert isinstance(answer[-1], ListMessage)  # the booking went on: the departments
    assert rows(answer[-1])[0][0].startswith("dept:")
    assert _patient(session).phone_hash == VAULT.lookup_hash("+919812345678")

    assert not any(isinstance(m, ContactRequest) for m in chat.tap("menu:book"))


def test_a_contact_card_without_a_phone_asks_again(session, chat):
    chat.tap("menu:book")
    (again,) = chat.deliver(chat.inbound("contacts", shared_phone=None))
    assert isinstance(again, ContactRequest) and "no phone number" in again.body
    assert chat.state().state == contact.ASK_PHONE
    assert _patient(session).phone_hash is None


def test_a_sender_with_a_phone_in_the_message_is_not_asked(session, chat):
    chat.wa_id = "919812345678"  # the webhook carries the phone this time
    replies = chat.tap("menu:book")
    assert not any(isinstance(m, ContactRequest) for m in replies)


def test_request_contact_info_is_sent_in_metas_shape_to_the_business_scoped_id():
    body = build_body(
        Recipient(contact_key=BSUID, phone_number_id="1055", user_id=BSUID),
        ContactRequest("Tap to share your phone number."),
    )
    assert body == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "recipient": BSUID,
        "type": "interactive",
        "interactive": {
            "type": "request_contact_info",
            "body": {"text": "Tap to share your phone number."},
            "action": {"name": "request_contact_info"},
        },
    }


def test_a_contacts_webhook_message_yields_the_shared_phone():
    message = Payload.model_validate(
        {
            "id": "wamid.C1",
            "timestamp": "1796000000",
            "type": "contacts",
            "from_user_id": BSUID,
            "contacts": [
                {
                    "name": {"formatted_name": "Meena Iyer", "first_name": "Meena"},
                    "phones": [
                        {"phone": "+91 98123 45678", "wa_id": "919812345678", "type": "CELL"}
                    ],
                }
            ],
        }
    )
    inbound = to_inbound(
        message, sender_of(message, []), tenant_id=1, phone_number_id="1055", received_at=NOW
    )
    assert (inbound.kind, inbound.shared_phone, inbound.contact_key) == (
        "contacts",
        "919812345678",
        BSUID,
    )
    card = {"phones": [{"phone": "+91 98123 45678"}]}  # no wa_id: the typed number counts
    no_wa = Payload.model_validate(
        {"id": "wamid.C2", "type": "contacts", "from_user_id": BSUID, "contacts": [card]}
    )
    inbound = to_inbound(
        no_wa, sender_of(no_wa, []), tenant_id=1, phone_number_id="1055", received_at=NOW
    )
    assert inbound.shared_phone == "919812345678"
