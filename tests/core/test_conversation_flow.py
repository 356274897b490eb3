"""Booking through the clinic's WhatsApp Flow: "book" sends the Flow message, the endpoint's
screens book, and the ``nfm_reply`` completion is answered once by the conversation."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import func, select

from core import tenancy
from core.clock import FrozenClock
from core.errors import PermissionDenied, ValidationFailed
from core.messaging.flows.booking import (
    FlowRequest,
    answer_flow,
    booking_flow_of,
    open_booking_flow,
    set_booking_flow,
)
from core.messaging.flows.tokens import read_flow_token
from core.messaging.graph_body import build_body
from core.messaging.messages import FlowMessage, ListMessage, Recipient
from core.patients.registry import register_patient
from db.models import Appointment
from tests.core.conversation_support import LINKS, NOW, NUMBER, VAULT, Chat, row_id, rows, texts
from tests.support import add_doctor

FLOW_ID = "1234567890123456"


@pytest.fixture
def clock():
    return FrozenClock(NOW)


@pytest.fixture
def doctor(session, clinic_a):
    tenancy.register_whatsapp_number(
        session, clinic_a.admin, phone_number_id=NUMBER, branch_id=clinic_a.branch.id
    )
    return add_doctor(session, clinic_a)


@pytest.fixture
def chat(session, clinic_a, doctor, clock):
    return Chat(session, clinic_a, clock)


@pytest.fixture
def ravi(session, clinic_a, chat):
    desk = dataclasses.replace(clinic_a.system, clock=chat.clock)
    return register_patient(
        session, desk, vault=VAULT, full_name="Ravi Rao", phone="+91 98765 43210"
    ).patient


@pytest.fixture
def with_flow(session, clinic_a):
    set_booking_flow(session, clinic_a.admin, meta_flow=FLOW_ID)


def endpoint(session, chat, token, action, screen=None, **data):
    """What the Flows endpoint does with one decrypted request (webhooks/flows.py)."""
    claims = read_flow_token(LINKS.secret, token, now=chat.clock())
    request = FlowRequest("4.0", action, token, screen, data)
    return answer_flow(session, chat.actor, token=claims, raw_token=token, request=request)


def fill_in(session, chat, clinic, doctor, token, slot_index=0):
    """Walk the Flow's screens as the patient would; return the SUCCESS params."""
    endpoint(session, chat, token, "INIT")
    days = endpoint(
        session, chat, token, "data_exchange", "DEPARTMENT", department=str(clinic.department.id)
    )["data"]["dates"]
    slots = endpoint(
        session, chat, token, "data_exchange", "DOCTOR", doctor=str(doctor.id), date=days[0]["id"]
    )["data"]["slots"]
    done = endpoint(session, chat, token, "data_exchange", "SLOT", slot=slots[slot_index]["id"])
    assert done["screen"] == "SUCCESS"
    return done["data"]["extension_message_response"]["params"]


def completion(chat, token, wamid=None):
    fields = {"flow_token": token, "flow_response": {"flow_token": token}, "text": "Sent"}
    if wamid:
        fields["wamid"] = wamid
    return chat.deliver(chat.inbound("flow_reply", **fields))


def appointments(session, clinic):
    return session.scalar(
        select(func.count())
        .select_from(Appointment)
        .where(Appointment.tenant_id == clinic.tenant_id)
    )


def test_book_sends_the_flow_message_and_its_completion_confirms_the_booking_once(
    session, clinic_a, chat, ravi, doctor, with_flow
):
    (offer,) = chat.tap("menu:book")
    assert isinstance(offer, FlowMessage)
    assert (offer.flow_id, offer.cta, offer.flow_action) == (
        FLOW_ID,
        "Book appointment",
        "data_exchange",
    )
    claims = read_flow_token(LINKS.secret, offer.flow_token, now=chat.clock())
    assert (claims.tenant_id, claims.patient_id, claims.contact_key) == (
        clinic_a.tenant_id,
        ravi.id,
        "919876543210",
    )
    assert chat.state().data["flow"]["token"] == offer.flow_token
    assert "Ravi" in texts(chat.say("hello"))  # other messages meanwhile keep the Flow open
    params = fill_in(session, chat, clinic_a, doctor, offer.flow_token)
    appt = session.get(Appointment, params["appointment_id"])
    assert (appt.patient_id, appt.source) == (ravi.id, "whatsapp")

    done = completion(chat, offer.flow_token)
    assert texts(done).startswith("Booked: Dr. Asha Rao, Mon 07 Dec at 09:30.")
    assert len(done) == 1
    assert completion(chat, offer.flow_token) == []  # a second completion: said once
    assert appointments(session, clinic_a) == 1


def test_a_flow_that_only_collected_the_choices_is_booked_by_the_conversation(
    session, clinic_a, chat, ravi, doctor
):
    token = open_booking_flow(
        session, chat.actor, secret=LINKS.secret, contact_key="919876543210"
    )  # no patient in the token: the endpoint does not book
    params = fill_in(session, chat, clinic_a, doctor, token, slot_index=1)
    assert "appointment_id" not in params and appointments(session, clinic_a) == 0
    assert "Booked: Dr. Asha Rao, Mon 07 Dec at 10:00" in texts(completion(chat, token))
    appt = session.scalars(select(Appointment).where(Appointment.patient_id == ravi.id)).one()
    assert appt.source == "whatsapp"


def test_a_stale_or_unknown_flow_token_gets_the_menu(session, clinic_a, chat, ravi, with_flow):
    (offer,) = chat.tap("menu:book")
    (newer,) = chat.tap("menu:book")  # a newer form replaces the older one
    stale = completion(chat, offer.flow_token)
    assert "no longer active" in texts(stale) and isinstance(stale[-1], ListMessage)
    unfinished = completion(chat, newer.flow_token)  # never submitted on the endpoint
    assert "no longer active" in texts(unfinished)
    assert appointments(session, clinic_a) == 0


def test_without_a_flow_or_on_request_book_runs_the_list_steps(
    session, clinic_a, chat, ravi, doctor
):
    depts = chat.tap("menu:book")[-1]
    assert rows(depts)[0][0] == f"dept:{clinic_a.department.id}"
    set_booking_flow(session, clinic_a.admin, meta_flow=FLOW_ID)
    listed = chat.tap("menu:book_list")[-1]
    assert row_id(listed) == f"dept:{clinic_a.department.id}"


def test_the_flow_setting_is_validated_and_for_admins(session, clinic_a, clinic_b):
    with pytest.raises(ValidationFailed):
        set_booking_flow(session, clinic_a.admin, meta_flow="not-a-number")
    with pytest.raises(PermissionDenied):
        set_booking_flow(session, clinic_a.receptionist, meta_flow=FLOW_ID)
    set_booking_flow(session, clinic_a.admin, meta_flow=f" {FLOW_ID} ")
    assert booking_flow_of(session, clinic_a.admin) == FLOW_ID
    assert booking_flow_of(session, clinic_b.admin) is None
    set_booking_flow(session, clinic_a.admin, meta_flow=None)
    assert booking_flow_of(session, clinic_a.admin) is None


def test_flow_message_body_is_metas_interactive_flow():
    message = FlowMessage(
        body="Tap below", flow_id=FLOW_ID, flow_token="qf1.x.y", cta="Book appointment now please"
    )
    body = build_body(Recipient("919876543210", "111", wa_id="919876543210"), message)
    assert body["type"] == "interactive"
    assert body["interactive"] == {
        "type": "flow",
        "body": {"text": "Tap below"},
        "action": {
            "name": "flow",
            "parameters": {
                "flow_message_version": "3",
                "flow_id": FLOW_ID,
                "flow_token": "qf1.x.y",
                "flow_cta": "Book appointment no…",
                "flow_action": "data_exchange",
            },
        },
    }
    navigate = dataclasses.replace(message, flow_action="navigate", screen="DEPARTMENT")
    parameters = build_body(Recipient("919876543210", "111", wa_id="919876543210"), navigate)[
        "interactive"
    ]["action"]["parameters"]
    assert parameters["flow_action_payload"] == {"screen": "DEPARTMENT"}
