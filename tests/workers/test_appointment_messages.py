"""Appointment messages the relay renders: a desk booking's confirmation and the waiting list's
offer of a freed slot (reply buttons Accept / Decline in the 24-hour window, the approved
template outside it, skipped with the reason when the clinic has none); the patient's tap
accepts or declines through core's waiting list.

SQLite and PostgreSQL, inside the rolled-back test transaction; the HTTP side is the loopback
fake Graph server.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from sqlalchemy import select, update

from core.clock import FrozenClock
from core.context import Actor
from core.messaging.conversation import handle_inbound
from core.messaging.inbound_types import InboundMessage
from core.patients.importing import PatientRow, import_patients
from core.scheduling.booking import (
    BOOKING_CONFIRMED,
    BOOKING_RESCHEDULED,
    book_appointment,
    cancel_appointment,
    reschedule_appointment,
)
from core.scheduling.waitlist import Wish, add_to_waitlist
from core.scheduling.waitlist_offers import SLOT_OFFER
from db.models import (
    Appointment,
    OutboxMessage,
    Patient,
    WaitlistEntry,
    WaitlistOffer,
    WhatsAppNumber,
)
from qlink.seed.templates import template_bodies
from tests.fakes.graph import FakeGraph
from tests.support import Clinic, add_doctor, at_desk, local, make_clinic, make_patient
from tests.workers.outbound_world import PHONE, VAULT, approve_template, open_window, relay_once
from workers.graph import GraphClient

MONDAY = dt.date(2026, 12, 7)
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


@dataclass
class Desk:
    clinic: Clinic
    clock: FrozenClock
    actor: Actor
    doctor_id: int
    meera: int  # has WhatsApp
    other: int  # has none
    phone_number_id: str


def desk_world(session, *, window=True, language="en") -> Desk:
    clinic = make_clinic(session)
    clock = FrozenClock(local(clinic, MONDAY, 8))
    doctor = add_doctor(session, clinic)
    (meera,) = import_patients(
        session, clinic.system, vault=VAULT, rows=[PatientRow("Meera Nair", phone=PHONE)]
    ).ids
    session.get(Patient, meera).preferred_language = language
    other = make_patient(session, clinic, "PATOFF1")
    pnid = f"2{clinic.tenant_id:05d}{clinic.branch.id:05d}"
    session.add(
        WhatsAppNumber(phone_number_id=pnid, tenant_id=clinic.tenant_id, branch_id=clinic.branch.id)
    )
    if window:
        open_window(session, clinic, clock.at)
    session.flush()
    return Desk(clinic, clock, at_desk(clinic, clock), doctor.id, meera, other.id, pnid)


def rows_of(session, desk, kind):
    session.expire_all()
    return session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.tenant_id == desk.clinic.tenant_id, OutboxMessage.kind == kind)
        .order_by(OutboxMessage.id)
    ).all()


def only(session, desk, kind):
    """Park every other outbox row: only ``kind`` is under test."""
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.tenant_id == desk.clinic.tenant_id, OutboxMessage.kind != kind)
        .values(status="parked")
    )


def send(session, desk, client, *, later=MINUTE):
    return relay_once(
        session, client.post, now=desk.clock() + later, tenants=[desk.clinic.tenant_id]
    )


def answer(session, desk, kind="button_reply", n=1, **fields):
    message = InboundMessage(
        tenant_id=desk.clinic.tenant_id,
        phone_number_id=desk.phone_number_id,
        wa_message_id=f"wamid.OFFER{n}",
        contact_key=PHONE.lstrip("+"),
        kind=kind,
        received_at=desk.clock(),
        wa_id=PHONE.lstrip("+"),
        **fields,
    )
    handle_inbound(
        session,
        Actor.system(desk.clinic.tenant_id, clock=desk.clock),
        message=message,
        vault=VAULT,
    )
    session.flush()


def replies(session, desk, n=1):
    return [
        r.payload
        for r in session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.tenant_id == desk.clinic.tenant_id,
                OutboxMessage.dedupe_key.like(f"conv:wamid.OFFER{n}:%"),
            )
            .order_by(OutboxMessage.dedupe_key)
        )
    ]


def offered(session, desk):
    """Meera waits for Monday; the other patient's 11:00 is cancelled: Meera is offered it."""
    appt = book_appointment(
        session,
        desk.actor,
        doctor_id=desk.doctor_id,
        patient_id=desk.other,
        slot_start=local(desk.clinic, MONDAY, 11),
    )
    add_to_waitlist(
        session,
        desk.actor,
        Wish(desk.meera, desk.clinic.branch.id, MONDAY, doctor_id=desk.doctor_id),
    )
    cancel_appointment(session, desk.actor, appointment_id=appt.id, reason="travelling")
    only(session, desk, SLOT_OFFER)
    (offer,) = session.scalars(
        select(WaitlistOffer).where(WaitlistOffer.tenant_id == desk.clinic.tenant_id)
    ).all()
    return offer


# --- booking confirmation ----------------------------------------------------------------------


def test_a_desk_booking_is_confirmed_in_the_window_as_text(session, fake, client):
    desk = desk_world(session)
    book_appointment(
        session,
        desk.actor,
        doctor_id=desk.doctor_id,
        patient_id=desk.meera,
        slot_start=local(desk.clinic, MONDAY, 10, 30),
    )
    only(session, desk, BOOKING_CONFIRMED)
    send(session, desk, client)
    (request,) = fake.requests
    assert request.body["to"] == PHONE.lstrip("+")
    assert request.body["text"]["body"] == (
        "Meera Nair, your appointment with Dr. Asha Rao is booked for 07 Dec 2026, 10:30 at "
        f"{desk.clinic.branch.name}."
    )
    assert [r.status for r in rows_of(session, desk, BOOKING_CONFIRMED)] == ["sent"]


def test_a_reschedule_is_told_with_the_new_and_old_time_outside_the_window_by_template(
    session, fake, client
):
    desk = desk_world(session, window=False, language="hi")
    approve_template(session, desk.clinic, "qlink_booking_rescheduled", language="hi")
    appt = book_appointment(
        session,
        desk.actor,
        doctor_id=desk.doctor_id,
        patient_id=desk.meera,
        slot_start=local(desk.clinic, MONDAY, 10),
    )
    moved = reschedule_appointment(
        session, desk.actor, appointment_id=appt.id, new_slot_start=local(desk.clinic, MONDAY, 15)
    )
    only(session, desk, BOOKING_RESCHEDULED)
    send(session, desk, client)
    (row,) = rows_of(session, desk, BOOKING_RESCHEDULED)
    assert (row.payload, row.status) == ({"appointment_id": moved.id, "from_id": appt.id}, "sent")
    (request,) = fake.requests
    template = request.body["template"]
    assert (template["name"], template["language"]["code"]) == ("qlink_booking_rescheduled", "hi")
    params = [p["text"] for p in template["components"][0]["parameters"]]
    assert params == [
        "Meera Nair",
        "Dr. Asha Rao",
        "7 दिसंबर 2026, 15:00",
        desk.clinic.branch.name,
        "7 दिसंबर 2026, 10:00",
    ]
    # the new row is not confirmed a second time: the reschedule notice is its confirmation
    assert [r.payload for r in rows_of(session, desk, BOOKING_CONFIRMED)] == [
        {"appointment_id": appt.id}
    ]


def test_without_an_approved_template_the_confirmation_is_skipped_with_the_reason(
    session, fake, client
):
    desk = desk_world(session, window=False)
    book_appointment(
        session,
        desk.actor,
        doctor_id=desk.doctor_id,
        patient_id=desk.meera,
        slot_start=local(desk.clinic, MONDAY, 10),
    )
    only(session, desk, BOOKING_CONFIRMED)
    send(session, desk, client)
    assert fake.requests == []
    (row,) = rows_of(session, desk, BOOKING_CONFIRMED)
    assert row.status == "skipped" and "qlink_booking_confirmed" in row.last_error


# --- waiting-list offer --------------------------------------------------------------------------


def test_an_offer_goes_out_as_accept_decline_buttons_and_accept_books_the_slot(
    session, fake, client
):
    desk = desk_world(session)
    offer = offered(session, desk)
    send(session, desk, client)
    (request,) = fake.requests
    interactive = request.body["interactive"]
    assert interactive["type"] == "button"
    assert interactive["body"]["text"] == (
        "Meera Nair, a slot has opened with Dr. Asha Rao on 07 Dec 2026, 11:00 at "
        f"{desk.clinic.branch.name}. It is held for you until 08:30. Would you like it?"
    )
    buttons = [(b["reply"]["id"], b["reply"]["title"]) for b in interactive["action"]["buttons"]]
    assert buttons == [
        (f"offer:accept:{offer.id}", "Accept"),
        (f"offer:decline:{offer.id}", "Decline"),
    ]
    assert [r.status for r in rows_of(session, desk, SLOT_OFFER)] == ["sent"]

    desk.clock.advance(minutes=5)
    answer(session, desk, reply_id=f"offer:accept:{offer.id}", text="Accept")
    session.expire_all()
    assert session.get(WaitlistOffer, offer.id).status == "accepted"
    appt = session.scalars(
        select(Appointment).where(
            Appointment.tenant_id == desk.clinic.tenant_id,
            Appointment.patient_id == desk.meera,
        )
    ).one()
    assert (appt.slot_start, appt.status, appt.source) == (
        local(desk.clinic, MONDAY, 11),
        "scheduled",
        "whatsapp",
    )
    assert session.get(WaitlistEntry, offer.entry_id).status == "booked"
    (reply,) = replies(session, desk)
    assert reply["message"]["body"] == "Booked: Dr. Asha Rao, Mon 07 Dec at 11:00. See you then!"
    # the chat confirmed it: no second confirmation message
    confirmed = [r.payload["appointment_id"] for r in rows_of(session, desk, BOOKING_CONFIRMED)]
    assert appt.id not in confirmed


def test_decline_passes_the_slot_on_and_keeps_the_patient_waiting(session, fake, client):
    desk = desk_world(session)
    offer = offered(session, desk)
    answer(session, desk, reply_id=f"offer:decline:{offer.id}", text="Decline")
    session.expire_all()
    assert session.get(WaitlistOffer, offer.id).status == "declined"
    assert session.get(WaitlistEntry, offer.entry_id).status == "waiting"
    (reply,) = replies(session, desk)
    assert "You stay on the waiting list" in reply["message"]["body"]
    # a second tap on the answered offer: no longer held, nothing booked
    answer(session, desk, reply_id=f"offer:accept:{offer.id}", text="Accept", n=2)
    (reply,) = replies(session, desk, 2)
    assert reply["message"]["body"].startswith("Sorry, that slot is no longer held for you")
    assert session.get(WaitlistEntry, offer.entry_id).status == "waiting"


def test_outside_the_window_the_template_goes_out_and_its_quick_reply_accepts(
    session, fake, client
):
    desk = desk_world(session, window=False, language="hi")
    approve_template(session, desk.clinic, "qlink_slot_offer", language="hi")
    offer = offered(session, desk)
    send(session, desk, client)
    (request,) = fake.requests
    template = request.body["template"]
    assert (template["name"], template["language"]["code"]) == ("qlink_slot_offer", "hi")
    params = [p["text"] for p in template["components"][0]["parameters"]]
    assert params == [
        "Meera Nair",
        "Dr. Asha Rao",
        "7 दिसंबर 2026, 11:00",
        desk.clinic.branch.name,
        "8:30",
    ]
    desk.clock.advance(minutes=10)
    answer(session, desk, "template_button", reply_id="स्वीकार करें", text="स्वीकार करें")
    session.expire_all()
    assert session.get(WaitlistOffer, offer.id).status == "accepted"
    (reply,) = replies(session, desk)
    assert reply["message"]["body"].startswith("बुक हो गया: Dr. Asha Rao")


def test_without_a_template_the_offer_is_skipped_with_the_reason(session, fake, client):
    desk = desk_world(session, window=False)
    offered(session, desk)
    send(session, desk, client)
    assert fake.requests == []
    (row,) = rows_of(session, desk, SLOT_OFFER)
    assert row.status == "skipped" and "qlink_slot_offer" in row.last_error


def test_an_offer_that_expired_before_the_relay_got_to_it_is_not_sent(session, fake, client):
    desk = desk_world(session)
    offered(session, desk)
    send(session, desk, client, later=31 * MINUTE)
    assert fake.requests == []
    (row,) = rows_of(session, desk, SLOT_OFFER)
    assert (row.status, row.last_error) == ("skipped", "the offer expired before it could be sent")


def test_another_patients_tap_on_an_offer_changes_nothing(session, fake, client):
    desk = desk_world(session)
    offer = offered(session, desk)
    session.execute(  # the offer belongs to someone else now
        update(WaitlistEntry)
        .where(WaitlistEntry.id == offer.entry_id)
        .values(patient_id=desk.other)
    )
    answer(session, desk, reply_id=f"offer:accept:{offer.id}", text="Accept")
    session.expire_all()
    assert session.get(WaitlistOffer, offer.id).status == "open"


def test_the_demo_templates_carry_both_bodies_in_both_languages():
    for lang in ("en", "hi"):
        bodies = template_bodies(lang)
        assert "{{5}}" in bodies["qlink_slot_offer"]
        assert "{{4}}" in bodies["qlink_booking_confirmed"]
