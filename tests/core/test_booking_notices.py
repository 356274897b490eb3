"""The patient hears of a cancelled or moved appointment, whoever changed it, exactly once."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from sqlalchemy import select

from core.clock import FrozenClock
from core.messaging import notify
from core.patients.registry import register_patient
from core.scheduling import web_booking
from core.scheduling.booking import (
    BOOKING_CANCELLED,
    BOOKING_CONFIRMED,
    BOOKING_RESCHEDULED,
    book_appointment,
    cancel_appointment,
    reschedule_appointment,
)
from core.tenancy import register_whatsapp_number
from db.models import Appointment, OutboxMessage
from tests.core.conversation_support import NOW, NUMBER, VAULT, Chat, buttons, row_id, texts
from tests.core.test_web_booking import at
from tests.support import add_doctor

SOURCES = ("web", "whatsapp", "reception")
TUESDAY = dt.date(2026, 12, 8)  # the day after the chat's NOW


def slot(hour: int) -> dt.datetime:
    return at(hour, day=TUESDAY)


@pytest.fixture
def desk(session, clinic_a):
    register_whatsapp_number(
        session, clinic_a.admin, phone_number_id=NUMBER, branch_id=clinic_a.branch.id
    )
    return dataclasses.replace(clinic_a.receptionist, clock=FrozenClock(NOW))


@pytest.fixture
def doctor(session, clinic_a, desk):
    return add_doctor(session, clinic_a)


@pytest.fixture
def meera(session, desk):
    return register_patient(
        session, desk, vault=VAULT, full_name="Meera Nair", phone="+91 98765 43210"
    ).patient


def book(session, desk, doctor, patient, source):
    return book_appointment(
        session, desk, doctor_id=doctor.id, patient_id=patient.id, slot_start=slot(9), source=source
    )


def intents(session, clinic, appointment_id):
    rows = session.scalars(
        select(OutboxMessage).where(
            OutboxMessage.tenant_id == clinic.tenant_id,
            OutboxMessage.kind.in_((BOOKING_CANCELLED, BOOKING_RESCHEDULED, BOOKING_CONFIRMED)),
        )
    ).all()
    return sorted(
        (r.kind, r.dedupe_key) for r in rows if r.payload["appointment_id"] == appointment_id
    )


@pytest.mark.parametrize("source", SOURCES)
def test_desk_cancellation_tells_the_patient_whatever_channel_booked(
    session, clinic_a, desk, doctor, meera, source
):
    appt = book(session, desk, doctor, meera, source)
    cancel_appointment(session, desk, appointment_id=appt.id, reason="Doctor on leave")
    assert (BOOKING_CANCELLED, f"cancelled:{appt.id}") in intents(session, clinic_a, appt.id)
    told = notify.render(
        session, clinic_a.tenant_id, BOOKING_CANCELLED, {"appointment_id": appt.id}, VAULT
    )
    assert told.recipient.wa_id == "919876543210"
    assert "is cancelled" in told.message.body and "08 Dec 2026, 09:00" in told.message.body
    assert told.fallback.name == "qlink_booking_cancelled"


def test_web_cancel_path_and_the_desk_rule_write_one_notice(session, clinic_a, desk, doctor, meera):
    appt = book(session, desk, doctor, meera, "web")
    web_booking.cancel_web_booking(session, desk, appointment_id=appt.id, reason="Travelling")
    cancelled = [k for k in intents(session, clinic_a, appt.id) if k[0] == BOOKING_CANCELLED]
    assert cancelled == [(BOOKING_CANCELLED, f"cancelled:{appt.id}")]


@pytest.mark.parametrize("source", SOURCES)
def test_desk_reschedule_tells_the_new_and_the_old_time_once(
    session, clinic_a, desk, doctor, meera, source
):
    appt = book(session, desk, doctor, meera, source)
    moved = reschedule_appointment(session, desk, appointment_id=appt.id, new_slot_start=slot(11))
    assert intents(session, clinic_a, moved.id) == [
        (BOOKING_RESCHEDULED, f"rescheduled:{moved.id}")
    ]  # no second "booked" confirmation for the new row
    assert not [k for k in intents(session, clinic_a, appt.id) if k[0] == BOOKING_CANCELLED]
    told = notify.render(
        session,
        clinic_a.tenant_id,
        BOOKING_RESCHEDULED,
        {"appointment_id": moved.id, "from_id": appt.id},
        VAULT,
    )
    assert "moved to 08 Dec 2026, 11:00" in told.message.body
    assert "it was 08 Dec 2026, 09:00" in told.message.body
    assert told.fallback.name == "qlink_booking_rescheduled"
    assert told.fallback.params == (
        "Meera Nair",
        doctor.full_name,
        "08 Dec 2026, 11:00",
        "Main branch",
        "08 Dec 2026, 09:00",
    )


def test_a_move_moved_again_is_told_only_by_the_later_notice(
    session, clinic_a, desk, doctor, meera
):
    appt = book(session, desk, doctor, meera, "web")
    first = reschedule_appointment(session, desk, appointment_id=appt.id, new_slot_start=slot(11))
    reschedule_appointment(session, desk, appointment_id=first.id, new_slot_start=slot(12))
    with pytest.raises(notify.NotRenderable):
        notify.render(
            session,
            clinic_a.tenant_id,
            BOOKING_RESCHEDULED,
            {"appointment_id": first.id, "from_id": appt.id},
            VAULT,
        )


def test_patient_cancelling_in_the_chat_is_answered_there_not_notified_again(
    session, clinic_a, desk, doctor, meera
):
    appt = book(session, desk, doctor, meera, "web")
    chat = Chat(session, clinic_a, FrozenClock(NOW))
    listed = chat.tap("menu:manage")
    assert row_id(listed[-1]) == f"appt:{appt.id}"
    actions = chat.tap(f"appt:{appt.id}")
    assert (f"cancel:{appt.id}", "Cancel it") in buttons(actions[-1])
    reply = texts(chat.tap(f"cancel:{appt.id}"))
    assert reply.startswith("Cancelled: ")
    assert not [k for k in intents(session, clinic_a, appt.id) if k[0] == BOOKING_CANCELLED]


def test_another_clinics_appointment_renders_no_notice(
    session, clinic_a, clinic_b, desk, doctor, meera
):
    appt = book(session, desk, doctor, meera, "web")
    cancel_appointment(session, desk, appointment_id=appt.id, reason="Doctor on leave")
    with pytest.raises(notify.NotRenderable):
        notify.render(
            session, clinic_b.tenant_id, BOOKING_CANCELLED, {"appointment_id": appt.id}, VAULT
        )


def test_patient_moving_it_in_the_chat_is_answered_there_not_notified_again(
    session, clinic_a, desk, doctor, meera
):
    appt = book(session, desk, doctor, meera, "web")
    chat = Chat(session, clinic_a, FrozenClock(NOW))
    chat.tap("menu:manage")
    chat.tap(f"appt:{appt.id}")
    days = chat.tap(f"resched:{appt.id}")
    times = chat.tap(row_id(days[-1]))  # the first day offered
    confirm = chat.tap(row_id(times[-1], 1))  # its second free time
    done = texts(chat.tap("book:yes"))
    assert "book:yes" in [b for b, _ in buttons(confirm[-1])]
    moved = session.scalars(
        select(Appointment).where(
            Appointment.tenant_id == clinic_a.tenant_id,
            Appointment.rescheduled_from_id == appt.id,
        )
    ).one()
    assert done and moved.status == "scheduled"
    assert intents(session, clinic_a, moved.id) == []  # neither "moved" nor "booked" again
