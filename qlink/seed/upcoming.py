"""Upcoming appointments, booked through core like a receptionist would (today onwards).

Each doctor-day draws from its own random stream, so what is booked on later days does not
depend on how much of today had already passed when the seed ran.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence

from sqlalchemy.orm import Session

from core.context import Actor
from core.scheduling.booking import book_appointment
from core.scheduling.slots import available_slots
from qlink.seed.history import Clinic, SeededDoctor
from qlink.seed.visits import fits

DAYS_AHEAD = 14
SOURCES = ("reception", "whatsapp", "whatsapp", "web")


def book_upcoming(session: Session, clinic: Clinic, desk: Actor, seed: str, today: dt.date) -> int:
    """Book a share of the free slots of the next two weeks; return how many were booked."""
    booked = 0
    for offset in range(DAYS_AHEAD):
        share = 0.45 * (1 - offset / (DAYS_AHEAD + 2))  # fuller soon, emptier later
        for doctor in clinic.doctors:
            rng = random.Random(f"{seed}:{doctor.plan.index}:{offset}")
            day = today + dt.timedelta(days=offset)
            booked += _book_day(session, clinic, desk, rng, doctor, day, share)
    return booked


def _book_day(
    session: Session,
    clinic: Clinic,
    desk: Actor,
    rng: random.Random,
    doctor: SeededDoctor,
    day: dt.date,
    share: float,
) -> int:
    slots = available_slots(session, desk, doctor_id=doctor.id, on_date=day)
    wanted = sorted(rng.sample(slots, round(len(slots) * share)), key=lambda s: s.start)
    patients = _patients(clinic, doctor, rng, len(wanted))
    for slot, patient_id in zip(wanted, patients, strict=False):
        book_appointment(
            session,
            desk,
            doctor_id=doctor.id,
            patient_id=patient_id,
            slot_start=slot.start,
            source=rng.choice(SOURCES),
            visit_type=rng.choice(("new", "new", "follow_up")),
        )
    return min(len(wanted), len(patients))


def _patients(
    clinic: Clinic, doctor: SeededDoctor, rng: random.Random, count: int
) -> Sequence[int]:
    pool = [p.id for p in clinic.patients if fits(doctor.plan, p)]
    return rng.sample(pool, min(count, len(pool)))
