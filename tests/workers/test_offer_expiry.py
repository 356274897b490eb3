"""Waiting-list offers expire on the workers' ticker (not when a desk happens to open the
calendar): the ``offers`` job, claimed once per minute slot, expires the lapsed offer and passes
the slot to the next waiting patient with a new ``whatsapp.slot_offer`` intent; a second ticker
in the same slot runs nothing. The calendar's read leaves a lapsed offer out meanwhile.

Commits for real on SQLite and PostgreSQL (a clinic of its own per test).
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from sqlalchemy import select

from core.clock import FrozenClock
from core.scheduling.booking import book_appointment, cancel_appointment
from core.scheduling.waitlist import Wish, add_to_waitlist, waitlist_day
from core.scheduling.waitlist_offers import SLOT_OFFER
from db.engine import ALL_TENANTS
from db.models import OutboxMessage, WaitlistOffer
from tests.support import add_doctor, local, make_clinic, make_patient
from workers.ticker import OFFER_SECONDS, SlotClaim, message_jobs, tick

MONDAY = dt.date(2026, 12, 7)
NOW = dt.datetime(2026, 12, 1, 4, 0, tzinfo=dt.UTC)


def test_the_ticker_expires_a_lapsed_offer_once_and_offers_the_slot_to_the_next(db):
    clock = FrozenClock(NOW)
    with db.transaction(ALL_TENANTS) as session:
        clinic = make_clinic(session)
        desk = dataclasses.replace(clinic.receptionist, clock=clock)
        doctor = add_doctor(session, clinic)
        booked, first, second = (make_patient(session, clinic, f"PATEX{n}") for n in range(3))
        appt = book_appointment(
            session,
            desk,
            doctor_id=doctor.id,
            patient_id=booked.id,
            slot_start=local(clinic, MONDAY, 10),
        )
        for patient in (first, second):
            add_to_waitlist(session, desk, Wish(patient.id, clinic.branch.id, MONDAY, doctor.id))
        cancel_appointment(session, desk, appointment_id=appt.id, reason="travelling")
        tenant_id, branch_id = clinic.tenant_id, clinic.branch.id

    def offers():
        with db.transaction(ALL_TENANTS, readonly=True) as session:
            rows = session.scalars(
                select(WaitlistOffer)
                .where(WaitlistOffer.tenant_id == tenant_id)
                .order_by(WaitlistOffer.id)
            ).all()
            return [(o.entry_id, o.status) for o in rows]

    (stale,) = offers()
    assert stale[1] == "open"

    clock.at = NOW + dt.timedelta(minutes=31)  # past the 30-minute hold
    with db.transaction(tenant_id, readonly=True) as session:  # the desk's read, before the tick
        later = dataclasses.replace(desk, clock=clock)
        rows = waitlist_day(session, later, branch_id=branch_id, on_date=MONDAY)
        assert [(r.status, r.offer_id) for r in rows] == [("waiting", None), ("waiting", None)]

    now = clock.at.timestamp()
    jobs = message_jobs(db, clock)
    assert "offers" in tick(SlotClaim(None, db, clock), jobs, now)
    assert "offers" not in tick(SlotClaim(None, db, clock), jobs, now)  # the slot is taken
    old, new = offers()
    assert old == (stale[0], "expired") and new[1] == "open" and new[0] != stale[0]
    with db.transaction(ALL_TENANTS, readonly=True) as session:
        intents = session.scalars(
            select(OutboxMessage.kind).where(
                OutboxMessage.tenant_id == tenant_id, OutboxMessage.kind == SLOT_OFFER
            )
        ).all()
    assert len(intents) == 2
    assert OFFER_SECONDS == 60.0
