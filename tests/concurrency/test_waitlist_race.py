"""Waiting-list races, committed for real: one offer per slot and per entry, one booking."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from core.auth.users import actor_for, create_user
from core.clock import FrozenClock
from core.errors import Conflict
from core.scheduling.booking import book_appointment, cancel_appointment
from core.scheduling.waitlist import Wish, accept_offer, add_to_waitlist
from db.models import Appointment, WaitlistEntry, WaitlistOffer
from tests.support import add_doctor, make_clinic, register_patients

NOW = dt.datetime(2029, 12, 1, tzinfo=dt.UTC)
DAY = dt.date(2030, 1, 7)  # a Monday
IST = ZoneInfo("Asia/Kolkata")
SLOTS = [dt.datetime.combine(DAY, dt.time(9, m), tzinfo=IST) for m in (0, 30)]


def _setup(db, *, waiting):
    """Commit a clinic whose two morning slots are booked and ``waiting`` patients wait."""
    with db.transaction("*") as s:
        clinic = make_clinic(s)
        doctor = add_doctor(s, clinic)
        desk = dataclasses.replace(clinic.receptionist, clock=FrozenClock(NOW))
        ids = register_patients(s, clinic, 2 + waiting)
        second = create_user(
            s, clinic.system, username=f"two.{clinic.tenant.slug}", password="correct-horse-1",
            full_name="Second Desk", role="receptionist", branch_id=clinic.branch.id,
        )  # fmt: skip
        appts = [
            book_appointment(s, desk, doctor_id=doctor.id, patient_id=p, slot_start=slot).id
            for p, slot in zip(ids, SLOTS, strict=False)
        ]
        for patient_id in ids[2:]:
            add_to_waitlist(s, desk, Wish(patient_id, clinic.branch.id, DAY, doctor_id=doctor.id))
    other = dataclasses.replace(actor_for(second), clock=FrozenClock(NOW))
    return clinic, (desk, other), appts


def _together(calls):
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait(timeout=30)
        try:
            return call()
        except Conflict as exc:
            return exc

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def _cancel(db, clinic, actor, appt_id):
    def call():
        with db.transaction(clinic.tenant_id) as s:
            return cancel_appointment(s, actor, appointment_id=appt_id, reason="travelling").id

    return call


def _offers(db, clinic):
    with db.transaction(clinic.tenant_id, readonly=True) as s:
        rows = s.execute(
            select(WaitlistOffer.entry_id, WaitlistOffer.slot_start, WaitlistOffer.status).where(
                WaitlistOffer.tenant_id == clinic.tenant_id
            )
        ).all()
        statuses = s.scalars(
            select(WaitlistEntry.status).where(WaitlistEntry.tenant_id == clinic.tenant_id)
        ).all()
    return rows, statuses


@pytest.mark.timeout(120)
def test_two_slots_freed_at_once_with_one_waiting_patient_make_one_offer(db):
    clinic, desks, appts = _setup(db, waiting=1)
    _together([_cancel(db, clinic, d, a) for d, a in zip(desks, appts, strict=True)])
    offers, statuses = _offers(db, clinic)
    assert len(offers) == 1 and offers[0].status == "open"
    assert statuses == ["offered"]


@pytest.mark.timeout(120)
def test_two_slots_freed_at_once_with_two_waiting_patients_offer_each_one_slot(db):
    clinic, desks, appts = _setup(db, waiting=2)
    _together([_cancel(db, clinic, d, a) for d, a in zip(desks, appts, strict=True)])
    offers, statuses = _offers(db, clinic)
    assert len({o.entry_id for o in offers}) == 2
    assert sorted(o.slot_start for o in offers) == [s.astimezone(dt.UTC) for s in SLOTS]
    assert statuses == ["offered", "offered"]


@pytest.mark.timeout(120)
def test_two_desks_accepting_one_offer_make_one_booking(db):
    clinic, desks, appts = _setup(db, waiting=1)
    _cancel(db, clinic, desks[0], appts[0])()
    (offer,), _ = _offers(db, clinic)
    with db.transaction(clinic.tenant_id, readonly=True) as s:
        offer_id = s.scalar(
            select(WaitlistOffer.id).where(WaitlistOffer.tenant_id == clinic.tenant_id)
        )

    def accept(actor):
        def call():
            with db.transaction(clinic.tenant_id) as s:
                return accept_offer(s, actor, offer_id=offer_id).id

        return call

    outcomes = _together([accept(d) for d in desks])
    assert sum(isinstance(o, int) for o in outcomes) == 1
    assert sum(isinstance(o, Conflict) for o in outcomes) == 1
    with db.transaction(clinic.tenant_id, readonly=True) as s:
        seats = s.scalars(
            select(Appointment.patient_id).where(
                Appointment.tenant_id == clinic.tenant_id,
                Appointment.slot_start == offer.slot_start,
                Appointment.status == "scheduled",
            )
        ).all()
    assert len(seats) == 1
