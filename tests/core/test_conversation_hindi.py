"""Hindi replies: dates and times from babel's hi_IN forms, and a refused step explained from the
catalogue in the patient's language (never core's English message)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from core import tenancy
from core.clock import FrozenClock
from core.errors import Conflict, DoctorNotAvailable, DomainError, SlotTaken
from core.messaging.catalogue import en, hi
from core.messaging.conversation.handle import reason_key
from core.messaging.dates import clock_label, day_label, when_label
from core.patients.registry import register_patient
from core.scheduling.doctors import add_leave
from tests.core.conversation_support import NOW, NUMBER, VAULT, Chat, row_id, rows, texts
from tests.support import add_doctor

KOLKATA = ZoneInfo("Asia/Kolkata")


@pytest.fixture
def doctor(session, clinic_a):
    tenancy.register_whatsapp_number(
        session, clinic_a.admin, phone_number_id=NUMBER, branch_id=clinic_a.branch.id
    )
    return add_doctor(session, clinic_a)


@pytest.fixture
def chat(session, clinic_a, doctor):
    return Chat(session, clinic_a, FrozenClock(NOW))


@pytest.fixture
def sita(session, clinic_a, chat):
    desk = dataclasses.replace(clinic_a.system, clock=chat.clock)
    patient = register_patient(
        session, desk, vault=VAULT, full_name="सीता देवी", phone="+91 98765 43210"
    ).patient
    chat.tap("lang:hi")
    return patient


def test_babel_renders_hindi_dates_and_times():
    nine_thirty = dt.datetime(2026, 11, 29, 4, 0, tzinfo=dt.UTC)
    assert day_label("hi", dt.date(2026, 11, 29)) == "रवि 29 नवंबर"
    assert clock_label("hi", nine_thirty, KOLKATA) == "9:30"
    assert when_label("hi", nine_thirty, KOLKATA) == "29 नवंबर 2026, 9:30"
    assert day_label("en", dt.date(2026, 11, 29)) == "Sun 29 Nov"
    assert when_label("en", nine_thirty, KOLKATA) == "29 Nov 2026, 09:30"


def test_hindi_booking_shows_hindi_dates_in_rows_and_sentences(chat, sita):
    depts = chat.tap("menu:book")[-1]
    doctors = chat.tap(row_id(depts))[-1]
    dates = chat.tap(row_id(doctors))[-1]
    assert rows(dates)[:2] == [
        ("date:2026-12-07", "सोम 7 दिसंबर"),
        ("date:2026-12-08", "मंगल 8 दिसंबर"),
    ]
    assert all(len(title) <= 24 for _, title in rows(dates))
    slots = chat.tap(row_id(dates))[-1]
    assert "सोम 7 दिसंबर" in slots.body
    confirm = chat.tap(row_id(slots))[-1]
    assert confirm.body == "Dr. Asha Rao, सोम 7 दिसंबर को 9:30 बजे बुक करें?"


def test_a_refused_step_is_explained_from_the_catalogue_in_hindi(
    session, clinic_a, chat, sita, doctor
):
    depts = chat.tap("menu:book")[-1]
    dates = chat.tap(row_id(chat.tap(row_id(depts))[-1]))[-1]
    slots = chat.tap(row_id(dates, 1))[-1]  # Tuesday
    chat.tap(row_id(slots))
    add_leave(
        session,
        clinic_a.admin,
        doctor_id=doctor.id,
        start_date=dt.date(2026, 12, 8),
        end_date=dt.date(2026, 12, 8),
        reason="Conference",
    )
    refused = texts(chat.tap("book:yes"))
    reason = hi.TEXTS["conv.reason.doctor_not_available"]
    assert hi.TEXTS["conv.error"].format(reason=reason) in refused
    assert "Doctor not available" not in refused and "Conference" not in refused


def test_english_reasons_too_and_unknown_codes_get_a_generic_one():
    assert reason_key(SlotTaken()) == "conv.reason.slot_taken"
    assert reason_key(Conflict("Token X changed")) == "conv.reason.conflict"
    assert reason_key(DoctorNotAvailable()) == "conv.reason.doctor_not_available"
    assert reason_key(DomainError("internal detail")) == "conv.reason.generic"
    assert en.TEXTS["conv.reason.slot_taken"] == "that time was just taken by someone else"
    assert set(k for k in hi.TEXTS if k.startswith("conv.reason.")) == set(
        k for k in en.TEXTS if k.startswith("conv.reason.")
    )


def test_every_conversation_reply_key_is_in_both_catalogues():
    assert set(en.TEXTS) == set(hi.TEXTS)
    assert all(hi.TEXTS[k] for k in hi.TEXTS)
