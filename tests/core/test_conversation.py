"""The WhatsApp conversation driven by inbound messages; replies asserted in the outbox."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from sqlalchemy import delete, func, select

from core import tenancy
from core.clock import FrozenClock
from core.messaging.catalogue import en, hi
from core.messaging.conversation import checkin_text
from core.messaging.messages import ListMessage
from core.patients.consent import current_consents
from core.patients.registry import register_patient
from core.queue.calling import call_next
from core.queue.issuing import issue_token
from core.queue.lifecycle import finish_token, start_consultation
from core.scheduling.booking import book_appointment
from db.models import Appointment, ConversationSession, OutboxMessage, Patient, QueueToken, Rating
from tests.core.conversation_support import (
    NOW,
    NUMBER,
    VAULT,
    Chat,
    buttons,
    row_id,
    rows,
    texts,
)
from tests.support import add_doctor

NOON = dt.datetime(2026, 12, 7, 6, 30, tzinfo=dt.UTC)  # 12:00 in Kolkata


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
    """A patient the clinic knows by the chat's phone number."""
    desk = dataclasses.replace(clinic_a.system, clock=chat.clock)
    return register_patient(
        session, desk, vault=VAULT, full_name="Ravi Rao", phone="+91 98765 43210"
    ).patient


def desk(clinic, clock):
    return dataclasses.replace(clinic.system, clock=clock)


def outbox_count(session):
    return session.scalar(select(func.count()).select_from(OutboxMessage))


def book_to_confirm(chat, slot_index=0):
    """Walk the menu to the confirm buttons; return the chosen slot's row id."""
    depts = chat.tap("menu:book")[-1]
    doctors = chat.tap(row_id(depts))[-1]
    dates = chat.tap(row_id(doctors))[-1]
    slots = chat.tap(row_id(dates))[-1]
    slot = row_id(slots, slot_index)
    confirm = chat.tap(slot)[-1]
    assert [b for b, _ in buttons(confirm)] == ["book:yes", "book:other", "book:no"]
    return slot


def test_new_number_registers_with_name_and_age_then_books(session, clinic_a, chat, doctor):
    assert "What is the patient's full name?" in texts(chat.say("Hello"))
    assert "How old" in texts(chat.say("Asha  Verma"))
    done = chat.say("34")
    assert "You are registered, Asha Verma" in texts(done)
    assert isinstance(done[-1], ListMessage)
    assert rows(done[-1])[0][0] == "menu:book"
    patient = session.scalars(select(Patient).where(Patient.full_name == "Asha Verma")).one()
    assert patient.phone_hash == VAULT.lookup_hash("+919876543210")
    assert current_consents(session, desk(clinic_a, chat.clock), patient.id)["whatsapp"] is True

    depts = chat.tap("menu:book")[-1]
    assert rows(depts) == [(f"dept:{clinic_a.department.id}", "General Medicine")]
    doctors = chat.tap(row_id(depts))[-1]
    assert rows(doctors) == [(f"doc:{doctor.id}", "Dr. Asha Rao")]
    dates = chat.tap(row_id(doctors))[-1]
    assert rows(dates)[0] == ("date:2026-12-07", "Mon 07 Dec")
    slots = chat.tap(row_id(dates))[-1]
    assert rows(slots)[0][1] == "09:30"  # starting now: still bookable
    assert rows(slots)[-1][0] == "more:1" and len(rows(slots)) == 10
    assert rows(chat.tap("more:1")[-1])[0][1] == "15:00"  # nine per page, lunch skipped
    chat.tap(row_id(slots, 5))  # 12:00
    booked = chat.tap("book:yes")
    assert "Booked: Dr. Asha Rao, Mon 07 Dec at 12:00" in texts(booked)
    appt = session.scalars(select(Appointment).where(Appointment.patient_id == patient.id)).one()
    assert (appt.slot_start, appt.source, appt.status) == (NOON, "whatsapp", "scheduled")
    assert chat.state().state == "idle"


def test_a_minor_needs_a_guardians_consent(session, clinic_a, chat):
    chat.say("Hi")
    chat.say("Baby Rao")
    question = chat.say("7")[-1]
    assert [b for b, _ in buttons(question)] == [
        "guardian:parent",
        "guardian:guardian",
        "guardian:no",
    ]
    assert "cannot register" in texts(chat.tap("guardian:no"))
    assert session.scalar(select(func.count()).where(Patient.full_name == "Baby Rao")) == 0
    chat.say("Hi")
    chat.say("Baby Rao")
    chat.say("7")
    assert "You are registered" in texts(chat.tap("guardian:parent"))
    baby = session.scalars(select(Patient).where(Patient.full_name == "Baby Rao")).one()
    assert (baby.age_years, baby.guardian_relation) == (7, "parent")


def test_known_number_is_greeted_by_name_with_the_menu(chat, ravi):
    replies = chat.say("hello")
    assert texts(replies).startswith("Hello Ravi Rao! Welcome to Clinic clinic-a.")
    assert isinstance(replies[-1], ListMessage)
    assert chat.state().patient_id == ravi.id


def test_lost_slot_race_offers_the_next_free_slots(session, clinic_a, chat, ravi, doctor):
    slot = book_to_confirm(chat)
    rival = register_patient(
        session, desk(clinic_a, chat.clock), vault=VAULT, full_name="Rival Patient"
    ).patient
    book_appointment(
        session,
        desk(clinic_a, chat.clock),
        doctor_id=doctor.id,
        patient_id=rival.id,
        slot_start=dt.datetime.fromisoformat(slot[5:]),
    )
    offer = chat.tap("book:yes")
    assert "someone just took that time" in texts(offer)
    offered = rows(offer[-1])
    assert slot not in [r for r, _ in offered] and len(offered) == 3
    assert chat.state().state == "book.slot"
    chat.tap(offered[0][0])
    assert "Booked:" in texts(chat.tap("book:yes"))
    mine = session.scalars(select(Appointment).where(Appointment.patient_id == ravi.id)).one()
    assert mine.slot_start.isoformat() == offered[0][0][5:]


def test_checkin_from_the_desk_qr_checks_in_todays_appointment(
    session, clinic_a, chat, ravi, doctor
):
    appt = book_appointment(
        session,
        desk(clinic_a, chat.clock),
        doctor_id=doctor.id,
        patient_id=ravi.id,
        slot_start=NOON,
    )
    assert checkin_text("main") == "CHECKIN main"
    reply = texts(chat.say(checkin_text("main")))
    token = session.scalars(select(QueueToken).where(QueueToken.patient_id == ravi.id)).one()
    assert (token.kind, token.appointment_id, token.source) == ("booked", appt.id, "whatsapp")
    session.refresh(appt)
    assert (appt.status, appt.checked_in_at) == ("checked_in", NOW)  # same transaction
    assert f"Your token: {token.code} (General Medicine)." in reply
    assert "Your place in line: 1." in reply
    assert "Expected around" in reply
    assert "Follow your place live: https://q.example/t/" in reply
    again = texts(chat.say("checkin MAIN"))  # the same token, not a second one
    assert token.code in again
    assert session.scalar(select(func.count()).select_from(QueueToken)) == 1


def test_checkin_without_appointment_issues_a_walk_in_token(session, chat, ravi):
    assert "Your token: GEN-001" in texts(chat.say("CHECKIN main"))
    token = session.scalars(select(QueueToken).where(QueueToken.patient_id == ravi.id)).one()
    assert (token.kind, token.appointment_id) == ("walk_in", None)
    assert "could not find that branch" in texts(chat.say("CHECKIN elsewhere"))


def test_status_tells_the_active_token_or_the_next_appointment(
    session, clinic_a, chat, ravi, doctor
):
    assert "You have no token today." in texts(chat.tap("menu:status"))
    book_appointment(
        session,
        desk(clinic_a, chat.clock),
        doctor_id=doctor.id,
        patient_id=ravi.id,
        slot_start=NOON,
    )
    assert "Your next appointment: Dr. Asha Rao, Mon 07 Dec at 12:00." in texts(chat.say("status"))
    chat.say("CHECKIN main")
    status = texts(chat.tap("menu:status"))
    assert "Your token: GEN-001" in status and "Your place in line: 1." in status


def test_cancel_an_upcoming_appointment(session, clinic_a, chat, ravi, doctor):
    appt = book_appointment(
        session,
        desk(clinic_a, chat.clock),
        doctor_id=doctor.id,
        patient_id=ravi.id,
        slot_start=NOON,
    )
    listed = chat.tap("menu:manage")[-1]
    assert rows(listed) == [(f"appt:{appt.id}", "Mon 07 Dec 12:00")]
    action = chat.tap(f"appt:{appt.id}")[-1]
    assert [b for b, _ in buttons(action)] == [f"cancel:{appt.id}", f"resched:{appt.id}", "keep"]
    assert "Cancelled: Dr. Asha Rao, Mon 07 Dec at 12:00." in texts(chat.tap(f"cancel:{appt.id}"))
    session.refresh(appt)
    assert appt.status == "cancelled"
    assert "no upcoming appointment" in texts(chat.tap("menu:manage"))


def test_reschedule_moves_the_appointment(session, clinic_a, chat, ravi, doctor):
    appt = book_appointment(
        session,
        desk(clinic_a, chat.clock),
        doctor_id=doctor.id,
        patient_id=ravi.id,
        slot_start=NOON,
    )
    chat.tap("menu:manage")
    chat.tap(f"appt:{appt.id}")
    dates = chat.tap(f"resched:{appt.id}")[-1]
    slots = chat.tap(row_id(dates, 1))[-1]  # Tuesday
    chat.tap(row_id(slots))
    assert "Moved: your appointment with Dr. Asha Rao is now Tue 08 Dec at 09:00." in texts(
        chat.tap("book:yes")
    )
    session.refresh(appt)
    assert appt.status == "cancelled"
    moved = session.scalars(
        select(Appointment).where(Appointment.rescheduled_from_id == appt.id)
    ).one()
    assert moved.status == "scheduled"


def test_rating_a_finished_visit_once_with_a_comment(session, clinic_a, chat, ravi, doctor):
    staff = desk(clinic_a, chat.clock)
    issued = issue_token(
        session,
        staff,
        patient_id=ravi.id,
        department_id=clinic_a.department.id,
        kind="walk_in",
        doctor_id=doctor.id,
    )
    assert "no finished visit" in texts(chat.tap("menu:rate"))
    call_next(session, staff, doctor_id=doctor.id)
    start_consultation(session, staff, token_id=issued.id)
    finish_token(session, staff, token_id=issued.id)
    scores = chat.tap("menu:rate")[-1]
    assert rows(scores)[0] == (f"rate:{issued.id}:5", "5 of 5")
    assert len(rows(scores)) == 5
    assert buttons(chat.tap(f"rate:{issued.id}:4")[-1]) == [("rate:skip", "Skip")]
    assert "Thank you for your feedback." in texts(chat.say("Quick and kind"))
    rating = session.scalars(select(Rating).where(Rating.token_id == issued.id)).one()
    assert (rating.score, rating.feedback, rating.doctor_id) == (4, "Quick and kind", doctor.id)
    assert "already rated" in texts(chat.tap(f"rate:{issued.id}:1"))
    assert "no finished visit" in texts(chat.tap("menu:rate"))
    assert session.scalar(select(func.count()).select_from(Rating)) == 1


def test_prescriptions_without_any_say_they_arrive_as_pdfs(chat, ravi):
    assert "will arrive here as a PDF" in texts(chat.tap("menu:rx"))


def test_unknown_input_gets_the_menu_never_silence(session, chat, ravi):
    chat.tap("menu:book")
    lost = chat.say("qwerty")
    assert texts(lost).startswith("Sorry, I did not understand that.")
    assert isinstance(lost[-1], ListMessage)
    assert chat.state().state == "idle"
    picture = chat.deliver(chat.inbound("media"))
    assert texts(picture) == en.TEXTS["conv.please_type"]
    where = chat.deliver(chat.inbound("location"))
    assert texts(where) == en.TEXTS["conv.please_type"]
    before = outbox_count(session)
    assert chat.deliver(chat.inbound("reaction")) == []
    assert outbox_count(session) == before


def test_an_idle_half_hour_falls_back_to_the_menu(chat, ravi, clinic_a):
    depts = chat.tap("menu:book")[-1]
    assert chat.state().state == "book.department"
    chat.clock.advance(minutes=31)
    late = chat.tap(row_id(depts))
    assert texts(late).startswith("Hello Ravi Rao!")  # idle again: greeted, shown the menu
    assert isinstance(late[-1], ListMessage)


def test_hindi_end_to_end(session, clinic_a, chat, doctor):
    switched = texts(chat.say("हिंदी"))
    assert hi.TEXTS["conv.lang.set"] in switched
    assert "मरीज़ का पूरा नाम क्या है?" in switched
    chat.say("सीता देवी")
    done = chat.say("41")
    assert "आपका पंजीकरण हो गया, सीता देवी।" in texts(done)
    assert rows(done[-1])[0] == ("menu:book", "अपॉइंटमेंट बुक करें")
    patient = session.scalars(select(Patient).where(Patient.full_name == "सीता देवी")).one()
    assert patient.preferred_language == "hi"
    book_to_confirm(chat)
    assert "बुक हो गया: Dr. Asha Rao, सोम 7 दिसंबर को 9:30 बजे।" in texts(chat.tap("book:yes"))
    assert "आपका अगला अपॉइंटमेंट" in texts(chat.tap("menu:status"))
    english = texts(chat.tap("lang:en"))
    assert en.TEXTS["conv.lang.set"] in english
    session.refresh(patient)
    assert patient.preferred_language == "en"


def test_a_reprocessed_message_is_answered_once(session, chat, ravi):
    message = chat.inbound("text", text="hello")
    first = chat.deliver(message)
    count, version = outbox_count(session), chat.state().version
    assert chat.deliver(message) == first
    assert (outbox_count(session), chat.state().version) == (count, version)


def test_another_clinics_patient_with_the_same_number_is_never_matched(
    session, clinic_a, clinic_b, chat
):
    other = register_patient(
        session,
        desk(clinic_b, chat.clock),
        vault=VAULT,
        full_name="Bob of Clinic B",
        phone="+91 98765 43210",
    ).patient
    reply = texts(chat.say("hello"))
    assert "What is the patient's full name?" in reply and "Bob" not in reply
    assert chat.state().patient_id is None
    assert session.scalars(select(Patient).where(Patient.id == other.id)).one().wa_bsuid is None


def test_a_bsuid_only_sender_registers_and_is_known_next_time(session, clinic_a, chat):
    user = Chat(session, clinic_a, chat.clock, wa_id=None, user_id="IN.1234567890abcdef")
    user.say("hi")
    user.say("Username Person")
    user.say("29")
    patient = session.scalars(select(Patient).where(Patient.full_name == "Username Person")).one()
    assert (patient.wa_bsuid, patient.phone_hash) == ("IN.1234567890abcdef", None)
    assert user.state().patient_id == patient.id
    stranger = Chat(session, clinic_a, chat.clock, wa_id=None, user_id="IN.1234567890abcdef")
    session.execute(  # forget the conversation: the match must come from the BSUID alone
        delete(ConversationSession).where(ConversationSession.contact_key == user.user_id)
    )
    assert texts(stranger.say("hello")).startswith("Hello Username Person!")


def test_both_catalogues_have_the_same_keys_and_fit_metas_limits():
    assert set(en.TEXTS) == set(hi.TEXTS)
    for table in (en.TEXTS, hi.TEXTS):
        assert all(
            len(table[f"conv.menu.{item}"]) <= 24
            for item in ("book", "status", "checkin", "manage", "rx", "rate", "language")
        )
        buttons_ = [
            k
            for k in table
            if k.split(".")[-1]
            in ("yes", "other", "no", "cancel", "reschedule", "keep", "skip", "parent", "guardian")
        ]
        assert all(len(table[k]) <= 20 for k in buttons_), buttons_


def test_the_services_conversation_signs_links_for_its_public_url(session, chat, ravi, tmp_path):
    from qlink.conversation import inbound_handler
    from qlink.settings import Settings
    from tests.core.conversation_support import VAULT, replies_to

    settings = Settings.from_env(
        {"QLINK_PUBLIC_URL": "https://clinic.example/", "QLINK_SECRET_KEY": "s" * 40},
        home=tmp_path,
    )
    message = chat.inbound("text", text="CHECKIN main")
    inbound_handler(settings)(session, chat.actor, message=message, vault=VAULT)
    reply = texts(replies_to(session, chat.clinic, message.wa_message_id))
    assert "Follow your place live: https://clinic.example/t/" in reply
