"""The waiting list for full days: offers of freed slots, acceptance, decline and expiry."""

from __future__ import annotations

import dataclasses
import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from core.clock import FrozenClock
from core.errors import Conflict, SlotTaken, ValidationFailed
from core.scheduling.booking import book_appointment, cancel_appointment, reschedule_appointment
from core.scheduling.waitlist import (
    Wish,
    accept_offer,
    add_to_waitlist,
    decline_offer,
    expire_due_offers,
    remove_from_waitlist,
    waitlist_day,
)
from core.scheduling.waitlist_offers import SLOT_OFFER
from db.models import AuditEntry, OutboxMessage, WaitlistEntry, WaitlistOffer
from tests.support import add_doctor, add_doctor_in, make_patient

IST = ZoneInfo("Asia/Kolkata")
MONDAY = dt.date(2026, 12, 7)
NOW = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)


def at(hour, minute=0):
    return dt.datetime.combine(MONDAY, dt.time(hour, minute), tzinfo=IST)


@pytest.fixture
def desk(session, clinic_a):
    actor = dataclasses.replace(clinic_a.receptionist, clock=FrozenClock(NOW))
    doctor = add_doctor(session, clinic_a)
    patients = [make_patient(session, clinic_a, f"PATW00{n}") for n in range(5)]
    return actor, doctor, patients


def wish(clinic, patient, doctor=None, window=None, **kwargs):
    start, end = window or (None, None)
    return Wish(
        patient_id=patient.id,
        branch_id=clinic.branch.id,
        on_date=MONDAY,
        doctor_id=doctor.id if doctor is not None else None,
        window_start=start,
        window_end=end,
        **kwargs,
    )


def book(session, actor, doctor, patient, when):
    return book_appointment(
        session, actor, doctor_id=doctor.id, patient_id=patient.id, slot_start=when
    )


def offers(session, clinic):
    return session.scalars(
        select(WaitlistOffer)
        .where(WaitlistOffer.tenant_id == clinic.tenant_id)
        .order_by(WaitlistOffer.id)
    ).all()


def intents(session, clinic):
    return session.execute(
        select(OutboxMessage.kind, OutboxMessage.payload).where(
            OutboxMessage.tenant_id == clinic.tenant_id, OutboxMessage.kind == SLOT_OFFER
        )
    ).all()


def test_cancel_offers_the_slot_to_the_oldest_entry_whose_window_fits(session, clinic_a, desk):
    actor, doctor, (booked, early, late, fits, _) = desk
    appt = book(session, actor, doctor, booked, at(10))
    add_to_waitlist(session, actor, wish(clinic_a, early, doctor, (dt.time(9), dt.time(10))))
    add_to_waitlist(session, actor, wish(clinic_a, late, doctor, (dt.time(15), dt.time(17))))
    entry = add_to_waitlist(session, actor, wish(clinic_a, fits, doctor, (dt.time(9), dt.time(12))))
    cancel_appointment(session, actor, appointment_id=appt.id, reason="travelling")
    (offer,) = offers(session, clinic_a)
    assert (offer.entry_id, offer.slot_start, offer.status) == (entry.id, at(10), "open")
    assert offer.expires_at == NOW + dt.timedelta(minutes=30)
    assert intents(session, clinic_a) == [(SLOT_OFFER, {"offer_id": offer.id})]
    (row,) = [r for r in waitlist_day(session, actor, branch_id=clinic_a.branch.id, on_date=MONDAY)
              if r.offer_id]  # fmt: skip
    assert (row.entry_id, row.status, row.offer_label, row.window) == (
        entry.id, "offered", "10:00", "09:00–12:00",
    )  # fmt: skip


def test_accepting_an_offer_books_the_slot_and_closes_the_entry(session, clinic_a, desk):
    actor, doctor, (booked, waiting, *_) = desk
    appt = book(session, actor, doctor, booked, at(10))
    entry = add_to_waitlist(session, actor, wish(clinic_a, waiting, doctor, note="fever"))
    cancel_appointment(session, actor, appointment_id=appt.id, reason="travelling")
    (offer,) = offers(session, clinic_a)
    new = accept_offer(session, actor, offer_id=offer.id)
    assert (new.patient_id, new.slot_start, new.status, new.reason) == (
        waiting.id, at(10), "scheduled", "fever",
    )  # fmt: skip
    session.refresh(entry)
    assert (entry.status, entry.appointment_id, offer.status) == ("booked", new.id, "accepted")
    with pytest.raises(Conflict):
        accept_offer(session, actor, offer_id=offer.id)
    assert waitlist_day(session, actor, branch_id=clinic_a.branch.id, on_date=MONDAY) == ()
    actions = session.scalars(
        select(AuditEntry.action).where(
            AuditEntry.tenant_id == clinic_a.tenant_id, AuditEntry.entity == "waitlist_entry"
        )
    ).all()
    assert actions == ["waitlist.add", "waitlist.accept"]


def test_an_expired_offer_passes_the_slot_to_the_next_entry(session, clinic_a, desk):
    actor, doctor, (booked, first, second, *_) = desk
    appt = book(session, actor, doctor, booked, at(10))
    one = add_to_waitlist(session, actor, wish(clinic_a, first, doctor))
    two = add_to_waitlist(session, actor, wish(clinic_a, second, doctor))
    cancel_appointment(session, actor, appointment_id=appt.id, reason="travelling")
    later = dataclasses.replace(actor, clock=FrozenClock(NOW + dt.timedelta(minutes=31)))
    (stale,) = offers(session, clinic_a)
    assert expire_due_offers(session, later) == 1
    assert expire_due_offers(session, later) == 0
    with pytest.raises(Conflict, match="expired"):
        accept_offer(session, later, offer_id=stale.id)
    old, new = offers(session, clinic_a)
    assert (old.entry_id, old.status, new.entry_id, new.status) == (
        one.id, "expired", two.id, "open",
    )  # fmt: skip
    session.refresh(one)
    assert one.status == "waiting"
    assert len(intents(session, clinic_a)) == 2


def test_accepting_after_the_expiry_time_is_refused_even_before_the_sweep(session, clinic_a, desk):
    actor, doctor, (booked, waiting, *_) = desk
    appt = book(session, actor, doctor, booked, at(10))
    add_to_waitlist(session, actor, wish(clinic_a, waiting, doctor))
    cancel_appointment(session, actor, appointment_id=appt.id, reason="travelling")
    (offer,) = offers(session, clinic_a)
    later = dataclasses.replace(actor, clock=FrozenClock(offer.expires_at))
    with pytest.raises(Conflict):
        accept_offer(session, later, offer_id=offer.id)


def test_declining_passes_the_slot_on_and_keeps_the_entry_waiting(session, clinic_a, desk):
    actor, doctor, (booked, first, second, *_) = desk
    appt = book(session, actor, doctor, booked, at(10))
    one = add_to_waitlist(session, actor, wish(clinic_a, first, doctor))
    two = add_to_waitlist(session, actor, wish(clinic_a, second, doctor))
    cancel_appointment(session, actor, appointment_id=appt.id, reason="travelling")
    (offer,) = offers(session, clinic_a)
    decline_offer(session, actor, offer_id=offer.id)
    _, passed = offers(session, clinic_a)
    assert (offer.status, passed.entry_id, passed.slot_start) == ("declined", two.id, at(10))
    session.refresh(one)
    assert one.status == "waiting"


def test_removing_an_offered_entry_passes_its_offer_on(session, clinic_a, desk):
    actor, doctor, (booked, first, second, *_) = desk
    appt = book(session, actor, doctor, booked, at(10))
    one = add_to_waitlist(session, actor, wish(clinic_a, first, doctor))
    two = add_to_waitlist(session, actor, wish(clinic_a, second, doctor))
    cancel_appointment(session, actor, appointment_id=appt.id, reason="travelling")
    assert remove_from_waitlist(session, actor, entry_id=one.id).status == "removed"
    assert [(o.entry_id, o.status) for o in offers(session, clinic_a)] == [
        (one.id, "declined"), (two.id, "open"),
    ]  # fmt: skip
    with pytest.raises(Conflict):
        remove_from_waitlist(session, actor, entry_id=one.id)


def test_a_slot_booked_directly_meanwhile_makes_the_offer_answer_slot_taken(
    session, clinic_a, desk
):
    actor, doctor, (booked, waiting, walker, *_) = desk
    appt = book(session, actor, doctor, booked, at(10))
    add_to_waitlist(session, actor, wish(clinic_a, waiting, doctor))
    cancel_appointment(session, actor, appointment_id=appt.id, reason="travelling")
    book(session, actor, doctor, walker, at(10))
    (offer,) = offers(session, clinic_a)
    with pytest.raises(SlotTaken):
        accept_offer(session, actor, offer_id=offer.id)
    session.refresh(offer)
    assert offer.status == "open"


def test_a_department_entry_fits_any_doctor_of_that_department(session, clinic_a, desk):
    actor, doctor, (booked, waiting, *_) = desk
    other = add_doctor_in(session, clinic_a, clinic_a.department, name="Dr. Vikram B")
    appt = book(session, actor, other, booked, at(11))
    entry = add_to_waitlist(
        session, actor, wish(clinic_a, waiting, department_id=clinic_a.department.id)
    )
    (row,) = waitlist_day(session, actor, branch_id=clinic_a.branch.id, on_date=MONDAY)
    assert row.wants == "any doctor, General Medicine"
    reschedule_appointment(session, actor, appointment_id=appt.id, new_slot_start=at(12))
    (offer,) = offers(session, clinic_a)
    assert (offer.entry_id, offer.doctor_id, offer.slot_start) == (entry.id, other.id, at(11))
    assert doctor.id != other.id


def test_nobody_fitting_means_no_offer_and_no_message(session, clinic_a, desk):
    actor, doctor, (booked, waiting, *_) = desk
    appt = book(session, actor, doctor, booked, at(10))
    add_to_waitlist(session, actor, wish(clinic_a, waiting, doctor, (dt.time(15), dt.time(16))))
    cancel_appointment(session, actor, appointment_id=appt.id, reason="travelling")
    assert offers(session, clinic_a) == [] and intents(session, clinic_a) == []


def test_one_live_entry_per_patient_and_day(session, clinic_a, desk):
    actor, doctor, (patient, *_) = desk
    add_to_waitlist(session, actor, wish(clinic_a, patient, doctor))
    with pytest.raises(Conflict, match="already on the waiting list"):
        add_to_waitlist(session, actor, wish(clinic_a, patient, doctor))
    count = session.scalars(select(WaitlistEntry).where(WaitlistEntry.patient_id == patient.id))
    assert len(count.all()) == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"on_date": dt.date(2026, 11, 30)}, "on_date"),
        ({"window_start": dt.time(12), "window_end": dt.time(11)}, "window"),
        ({"window_start": dt.time(12)}, "window"),
        ({"doctor_id": None}, "doctor_id"),
    ],
)
def test_a_bad_wish_is_refused_with_its_field(session, clinic_a, desk, change, field):
    actor, doctor, (patient, *_) = desk
    with pytest.raises(ValidationFailed) as caught:
        add_to_waitlist(
            session, actor, dataclasses.replace(wish(clinic_a, patient, doctor), **change)
        )
    assert caught.value.details["field"] == field
