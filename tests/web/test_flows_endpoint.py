"""``POST /webhooks/whatsapp/flows`` driven by an independent client over a real socket.

Two clinics committed for real; the client speaks Meta's protocol (tests/web/flows_client.py).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from core.messaging.flows.booking import open_booking_flow
from core.messaging.flows.crypto import generate_private_key_pem, load_private_key
from core.messaging.flows.tokens import FlowToken, sign_flow_token
from db.engine import Database
from db.models import Appointment, ConversationSession
from qlink.asgi import create_app
from tests.web.conftest import SECRET, Floor, LiveServer, free_port, make_floor, settings_for
from tests.web.flows_client import FlowsClient, hs256, seal

FLOW_JSON = Path(__file__).parents[2] / "core" / "messaging" / "flows" / "booking_flow.json"
PEM = generate_private_key_pem()
CONTACT = "919812345678"


@pytest.fixture
def flows(db: Database, tmp_path: Path) -> Iterator[FlowsClient]:
    pem_path = tmp_path / "flows.pem"
    pem_path.write_bytes(PEM)
    settings = dataclasses.replace(
        settings_for(db, tmp_path), whatsapp_flows_private_key=str(pem_path)
    )
    server = LiveServer(create_app(settings, database=db), free_port()).start()
    try:
        yield FlowsClient(
            f"{server.url}/webhooks/whatsapp/flows",
            load_private_key(PEM).public_key(),
            settings.whatsapp_app_secret,
        )
    finally:
        server.stop()


@pytest.fixture
def clinics(db: Database) -> tuple[Floor, Floor]:
    return make_floor(db), make_floor(db, doctors=1)


def open_flow(floor: Floor, *, patient: bool = True, contact: str = CONTACT) -> str:
    with floor.db.transaction(floor.tenant_id) as s:
        return open_booking_flow(
            s,
            floor.clinic.system,
            secret=SECRET,
            contact_key=contact,
            patient_id=floor.patients[0] if patient else None,
        )


def declared(screen: str) -> set[str]:
    flow = json.loads(FLOW_JSON.read_text())
    (found,) = [s for s in flow["screens"] if s["id"] == screen]
    return set(found["data"]) | {"error_message"}


def exchange(client: FlowsClient, token: str, action: str, screen: str | None = None, **data: Any):
    body: dict[str, Any] = {"version": "4.0", "action": action, "flow_token": token}
    if screen:
        body["screen"] = screen
    if data:
        body["data"] = data
    reply = client.send(body)
    assert reply.status == 200, reply.text
    assert reply.content_type.startswith("text/plain")
    assert reply.body is not None and reply.body["version"] == "4.0"
    if reply.body["screen"] != "SUCCESS":
        assert set(reply.body["data"]) <= declared(reply.body["screen"])
    return reply.body


def test_booking_flow_init_doctor_slot_back_and_book(flows, clinics, db):
    floor, _ = clinics
    token = open_flow(floor)
    first = exchange(flows, token, "INIT")
    dept = floor.clinic.department
    assert first == {
        "version": "4.0",
        "screen": "DEPARTMENT",
        "data": {"departments": [{"id": str(dept.id), "title": dept.name}]},
    }
    doctors = exchange(flows, token, "data_exchange", "DEPARTMENT", department=str(dept.id))
    assert doctors["screen"] == "DOCTOR"
    assert {d["id"] for d in doctors["data"]["doctors"]} == {str(d.id) for d in floor.doctors}
    tomorrow = doctors["data"]["dates"][1]["id"]
    doctor = str(floor.doctors[0].id)
    slots = exchange(flows, token, "data_exchange", "DOCTOR", doctor=doctor, date=tomorrow)
    assert slots["screen"] == "SLOT"
    labels = [s["title"] for s in slots["data"]["slots"]]
    assert labels[:2] == ["09:00", "09:30"] and "13:00" not in labels and len(labels) == 14
    back = exchange(flows, token, "BACK")
    assert back["screen"] == "DOCTOR" and back["data"]["doctors"] == doctors["data"]["doctors"]
    slots = exchange(flows, token, "data_exchange", "DOCTOR", doctor=doctor, date=tomorrow)
    chosen = slots["data"]["slots"][0]["id"]
    done = exchange(flows, token, "data_exchange", "SLOT", slot=chosen)
    assert done["screen"] == "SUCCESS"
    params = done["data"]["extension_message_response"]["params"]
    assert params["flow_token"] == token
    with db.transaction(floor.tenant_id) as s:
        appt = s.get(Appointment, params["appointment_id"])
        assert appt is not None
        assert (appt.patient_id, appt.doctor_id, appt.source) == (
            floor.patients[0],
            floor.doctors[0].id,
            "whatsapp",
        )
        assert appt.slot_start == dt.datetime.fromisoformat(chosen)
    again = flows.send({"version": "4.0", "action": "INIT", "flow_token": token})
    assert again.status == 427 and again.body is not None and "error_msg" in again.body


def test_unknown_patient_hands_the_choice_to_the_conversation(flows, clinics, db):
    floor, _ = clinics
    token = open_flow(floor, patient=False, contact="IN.1234567890")
    exchange(flows, token, "INIT")
    dept = str(floor.clinic.department.id)
    doctors = exchange(flows, token, "data_exchange", "DEPARTMENT", department=dept)
    day = doctors["data"]["dates"][1]["id"]
    doctor = str(floor.doctors[1].id)
    slots = exchange(flows, token, "data_exchange", "DOCTOR", doctor=doctor, date=day)
    chosen = slots["data"]["slots"][-1]["id"]
    done = exchange(flows, token, "data_exchange", "SLOT", slot=chosen)
    params = done["data"]["extension_message_response"]["params"]
    assert params == {
        "flow_token": token,
        "doctor_id": floor.doctors[1].id,
        "branch_id": floor.clinic.branch.id,
        "slot_start": chosen,
    }
    with db.transaction(floor.tenant_id) as s:
        row = s.scalars(
            select(ConversationSession).where(
                ConversationSession.tenant_id == floor.tenant_id,
                ConversationSession.contact_key == "IN.1234567890",
            )
        ).one()
        assert row.data["flow"]["status"] == "done"
        assert row.data["flow"]["result"] == params
        booked = s.scalars(
            select(Appointment).where(Appointment.tenant_id == floor.tenant_id)
        ).all()
        assert booked == []


def test_another_clinics_departments_and_doctors_never_appear(flows, clinics):
    mine, other = clinics
    token = open_flow(other)
    first = exchange(flows, token, "INIT")
    assert [d["id"] for d in first["data"]["departments"]] == [str(other.clinic.department.id)]
    foreign = exchange(
        flows, token, "data_exchange", "DEPARTMENT", department=str(mine.clinic.department.id)
    )
    assert foreign["screen"] == "DEPARTMENT" and foreign["data"]["error_message"]
    own = exchange(
        flows, token, "data_exchange", "DEPARTMENT", department=str(other.clinic.department.id)
    )
    assert {d["id"] for d in own["data"]["doctors"]} == {str(other.doctors[0].id)}
    day = own["data"]["dates"][1]["id"]
    stolen = exchange(
        flows, token, "data_exchange", "DOCTOR", doctor=str(mine.doctors[0].id), date=day
    )
    assert stolen["screen"] == "DEPARTMENT" and stolen["data"]["error_message"]
    # the control: the same department id through clinic_a's own flow lists its doctors
    theirs = open_flow(mine, contact="919800000009")
    exchange(flows, theirs, "INIT")
    listed = exchange(
        flows, theirs, "data_exchange", "DEPARTMENT", department=str(mine.clinic.department.id)
    )
    assert {d["id"] for d in listed["data"]["doctors"]} == {str(d.id) for d in mine.doctors}


def test_ping_and_client_error_are_answered_without_a_token(flows):
    pong = flows.send({"version": "4.0", "action": "ping"})
    assert (pong.status, pong.body) == (200, {"version": "4.0", "data": {"status": "active"}})
    ack = flows.send(
        {
            "version": "4.0",
            "action": "data_exchange",
            "flow_token": "anything",
            "data": {"error": "INVALID_SCREEN_TRANSITION", "error_message": "bad"},
        }
    )
    assert (ack.status, ack.body) == (200, {"version": "4.0", "data": {"acknowledged": True}})


def test_bad_or_missing_signature_is_432(flows):
    ping = {"version": "4.0", "action": "ping"}
    assert flows.send(ping, signature="sha256=" + "0" * 64).status == 432
    assert flows.send(ping, signature=None).status == 432
    assert flows.send(ping).status == 200


def test_undecryptable_request_is_421(flows):
    other_key = load_private_key(generate_private_key_pem()).public_key()
    foreign, _, _ = seal(other_key, {"version": "4.0", "action": "ping"})
    assert flows.send({}, envelope=foreign).status == 421
    garbled = dict(seal(flows.public_key, {"action": "ping"})[0], encrypted_flow_data="AAAA")
    assert flows.send({}, envelope=garbled).status == 421
    assert flows.send({}, envelope={"nothing": "here"}).status == 421


def test_forged_expired_and_replaced_tokens_are_427(flows, clinics):
    floor, _ = clinics
    claims = FlowToken(floor.tenant_id, CONTACT, dt.datetime.now(dt.UTC) + dt.timedelta(hours=1))
    forged = sign_flow_token("not-our-secret", claims)
    expired = sign_flow_token(
        SECRET, dataclasses.replace(claims, expires_at=claims.expires_at - dt.timedelta(hours=2))
    )
    replaced = open_flow(floor)
    current = open_flow(floor)
    for token in (forged, expired, replaced, "", None):
        reply = flows.send({"version": "4.0", "action": "INIT", "flow_token": token})
        assert reply.status == 427, token
        assert reply.body is not None and reply.body["error_msg"]
    assert exchange(flows, current, "INIT")["screen"] == "DEPARTMENT"


def test_flow_token_signature_is_checked_when_present(flows, clinics):
    floor, _ = clinics
    token = open_flow(floor)
    body = {"version": "4.0", "action": "INIT", "flow_token": token}
    good = hs256(flows.app_secret, {"flow_token": token})
    assert flows.send({**body, "flow_token_signature": good}).status == 200
    wrong_key = hs256("someone-else", {"flow_token": token})
    assert flows.send({**body, "flow_token_signature": wrong_key}).status == 432
    other_token = hs256(flows.app_secret, {"flow_token": "qf1.other.token"})
    assert flows.send({**body, "flow_token_signature": other_token}).status == 432
    assert flows.send(body).status == 200
