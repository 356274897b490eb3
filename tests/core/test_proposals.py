"""A time the desk proposed for a web request, answered with a tap in WhatsApp."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from sqlalchemy import select, update

from core.clock import FrozenClock
from core.errors import NotFound
from core.messaging import notify
from core.messaging.graph_body import build_body
from core.messaging.messages import Buttons, ListMessage
from core.messaging.templates import save_template
from core.patients.registry import register_patient
from core.scheduling import proposals, web_booking, web_requests
from core.scheduling.booking import BOOKING_CONFIRMED, book_appointment
from core.tenancy import register_whatsapp_number
from db.models import Appointment, Patient
from db.models.scheduling import BookingRequest
from tests.core.conversation_support import NOW, NUMBER, VAULT, Chat, rows, texts
from tests.core.test_web_booking import at, code_sent
from tests.support import add_doctor

PHONE = "+919876543210"  # the chat's number
TUESDAY = dt.date(2026, 12, 8)


@pytest.fixture
def world(session, clinic_a):
    """clinic_a in request mode; a web request from PHONE answered with Tuesday 10:00."""
    return proposed_request(session, clinic_a)


def proposed_request(session, clinic_a, language: str = "en"):
    """A web request from PHONE on the booking page in ``language``, answered with Tuesday 10:00."""
    register_whatsapp_number(
        session, clinic_a.admin, phone_number_id=NUMBER, branch_id=clinic_a.branch.id
    )
    doctor = add_doctor(session, clinic_a)
    web_booking.set_booking_mode(
        session, clinic_a.admin, branch_id=clinic_a.branch.id, mode="request"
    )
    tenant = clinic_a.tenant_id
    web_booking.issue_code(session, tenant, phone=PHONE, vault=VAULT, now=NOW)
    check = web_booking.verify_code(
        session, tenant, phone=PHONE, code=code_sent(session, clinic_a, PHONE), vault=VAULT, now=NOW
    )
    request = web_requests.request_booking(
        session,
        tenant,
        ticket=check.ticket,
        phone=PHONE,
        full_name="Meera Nair",
        age_years=34,
        branch_id=clinic_a.branch.id,
        preferred_date=TUESDAY,
        window="morning",
        vault=VAULT,
        now=NOW,
        language=language,
    )
    desk = dataclasses.replace(clinic_a.receptionist, clock=FrozenClock(NOW))
    web_requests.propose_booking_request(
        session,
        desk,
        request_id=request.id,
        proposed_start=at(10, day=TUESDAY),
        doctor_id=doctor.id,
    )
    return request, doctor, Chat(session, clinic_a, FrozenClock(NOW))


def booked(session, request):
    return session.scalars(
        select(Appointment).where(
            Appointment.tenant_id == request.tenant_id,
            Appointment.idempotency_key == f"web-request:{request.id}",
        )
    ).all()


def status(session, request):
    return session.scalar(
        select(BookingRequest.status)
        .where(BookingRequest.id == request.id)
        .execution_options(populate_existing=True)
    )


def test_proposal_goes_out_with_accept_and_another_time_buttons(session, clinic_a, world):
    request, _, _ = world
    told = notify.render(
        session,
        clinic_a.tenant_id,
        web_requests.REQUEST_PROPOSED,
        {"request_id": request.id},
        VAULT,
    )
    ids = (f"proposal:accept:{request.id}", f"proposal:other:{request.id}")
    assert isinstance(told.message, Buttons)
    assert [(b.id, b.title) for b in told.message.buttons] == [
        (ids[0], "Accept"),
        (ids[1], "Choose another time"),
    ]
    assert "Reply here" not in told.message.body and "08 Dec 2026, 10:00" in told.message.body
    template = build_body(told.recipient, told.fallback)["template"]
    assert template["name"] == "qlink_booking_proposed"
    assert template["components"][1:] == [
        {
            "type": "button",
            "sub_type": "quick_reply",
            "index": str(i),
            "parameters": [{"type": "payload", "payload": payload}],
        }
        for i, payload in enumerate(ids)
    ]


def test_a_request_made_on_the_hindi_page_gets_its_proposal_in_hindi(session, clinic_a):
    request, _, _ = proposed_request(session, clinic_a, language="hi")
    assert request.language == "hi"

    def told():
        return notify.render(
            session,
            clinic_a.tenant_id,
            web_requests.REQUEST_PROPOSED,
            {"request_id": request.id},
            VAULT,
        )

    message = told().message
    assert isinstance(message, Buttons)
    assert message.body.startswith("नमस्ते Meera Nair") and "8 दिसंबर 2026, 10:00" in message.body
    assert [b.title for b in message.buttons] == ["स्वीकार करें", "दूसरा समय चुनें"]
    # no Hindi template approved: the English one, with English parameters (no Hindi date in it)
    fallback = told().fallback
    assert (fallback.language, fallback.params[1]) == ("en", "08 Dec 2026, 10:00")
    for language in ("en", "hi"):
        save_template(
            session,
            clinic_a.admin,
            name="qlink_booking_proposed",
            language=language,
            category="utility",
            body="{{1}}: {{3}} can see you on {{2}}.",
            status="approved",
        )
    fallback = told().fallback
    assert (fallback.language, fallback.params[1]) == ("hi", "8 दिसंबर 2026, 10:00")


def test_a_request_page_language_other_than_en_or_hi_is_stored_as_english(session, clinic_a):
    request, _, _ = proposed_request(session, clinic_a, language="fr")
    assert request.language == "en"
    told = notify.render(
        session,
        clinic_a.tenant_id,
        web_requests.REQUEST_PROPOSED,
        {"request_id": request.id},
        VAULT,
    )
    assert told.message.body.startswith("Hello Meera Nair")


def test_a_new_patient_confirmed_from_a_hindi_request_is_registered_in_hindi(session, clinic_a):
    request, doctor, _ = proposed_request(session, clinic_a, language="hi")
    session.execute(
        update(BookingRequest)
        .where(BookingRequest.id == request.id)
        .values(status="pending", proposed_start=None)
    )
    desk = dataclasses.replace(clinic_a.receptionist, clock=FrozenClock(NOW))
    appt = web_requests.confirm_booking_request(
        session,
        desk,
        request_id=request.id,
        doctor_id=doctor.id,
        slot_start=at(11, day=TUESDAY),
        vault=VAULT,
    )
    patient = session.get(Patient, appt.patient_id)
    assert patient.preferred_language == "hi"  # the confirmation and reminders follow it
    confirmed = notify.render(
        session, clinic_a.tenant_id, BOOKING_CONFIRMED, {"appointment_id": appt.id}, VAULT
    )
    assert confirmed.fallback.language == "hi" and "दिसंबर" in confirmed.message.body


def test_accept_from_a_new_number_books_once_and_confirms_in_the_chat(session, world):
    request, doctor, chat = world
    reply = texts(chat.tap(f"proposal:accept:{request.id}", "Accept"))
    assert reply == "Booked: Dr. Asha Rao, Tue 08 Dec at 10:00. See you then!"
    (appt,) = booked(session, request)
    assert (appt.doctor_id, appt.slot_start, appt.source) == (
        doctor.id,
        at(10, day=TUESDAY),
        "whatsapp",
    )
    assert status(session, request) == "accepted"
    assert chat.state().patient_id == appt.patient_id  # registered, and known from now on
    # the same tap again, now as the template's quick-reply (outside the window): no second booking
    again = chat.deliver(
        chat.inbound("template_button", reply_id=f"proposal:accept:{request.id}", text="Accept")
    )
    assert texts(again).startswith("Booked: Dr. Asha Rao")
    assert len(booked(session, request)) == 1


def test_accept_after_the_slot_was_taken_offers_the_next_free_slots(session, clinic_a, world):
    request, doctor, chat = world
    other = register_patient(
        session, clinic_a.receptionist, vault=VAULT, full_name="Ravi Rao", phone="+919800000001"
    ).patient
    desk = dataclasses.replace(clinic_a.receptionist, clock=FrozenClock(NOW))
    book_appointment(
        session, desk, doctor_id=doctor.id, patient_id=other.id, slot_start=at(10, day=TUESDAY)
    )
    replies = chat.tap(f"proposal:accept:{request.id}", "Accept")
    assert "someone just took that time" in texts(replies)
    offered = rows(next(m for m in replies if isinstance(m, ListMessage)))
    assert offered[0][1].endswith("10:30")
    assert booked(session, request) == [] and status(session, request) == "proposed"
    assert chat.state().patient_id is not None  # can pick an offered slot right away


def test_another_time_declines_and_says_how_to_book(session, world):
    request, _, chat = world
    reply = texts(chat.tap(f"proposal:other:{request.id}", "Choose another time"))
    assert "Reply BOOK" in reply
    assert status(session, request) == "declined"
    assert "already answered" in texts(chat.tap(f"proposal:accept:{request.id}", "Accept"))
    assert booked(session, request) == []


def test_a_tap_naming_someone_elses_request_changes_nothing(session, clinic_a, world):
    request, _, _ = world
    stranger = Chat(session, clinic_a, FrozenClock(NOW), wa_id="919811111111")
    reply = texts(stranger.tap(f"proposal:accept:{request.id}", "Accept"))
    assert "Booked" not in reply
    assert booked(session, request) == [] and status(session, request) == "proposed"


def test_another_clinics_request_id_is_not_found(session, clinic_b, world):
    request, _, _ = world
    with pytest.raises(NotFound):
        proposals.accept_proposal(
            session, clinic_b.receptionist, request_id=request.id, phone=PHONE, vault=VAULT
        )
