"""The day's arrivals, drawn up front: when each patient comes, of what kind, for whom.

Arrivals follow ``ARRIVALS_BY_HOUR`` and ``KIND_MIX``; some walk-ins name a doctor. A booked
patient first gets a real appointment through ``core`` (a few days before, on the booking
grid) and arrives around its slot; when the doctor's grid is full they come as a walk-in.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field

from core.clock import FrozenClock
from core.context import Actor
from core.scheduling.booking import book_appointment
from db.engine import Database
from qlink.simulation.scenario import (
    ARRIVALS_BY_HOUR,
    KIND_MIX,
    NAMED_DOCTOR_RATE,
    OPEN,
    SLOT_MINUTES,
    ZONE,
    Clinic,
    Scenario,
    instant,
    split,
)


@dataclass(order=True)
class Arrival:
    """One patient turning up: when, where and for whom (ordered by time, then draw order)."""

    at: dt.datetime
    seq: int
    tenant_index: int = field(compare=False)
    patient_id: int = field(compare=False)
    kind: str = field(compare=False)
    department_id: int = field(compare=False)
    doctor_id: int | None = field(compare=False)
    appointment_id: int | None = field(compare=False, default=None)


def draw_arrivals(
    database: Database,
    scenario: Scenario,
    clinics: list[Clinic],
    rng: random.Random,
    day: dt.date,
) -> list[Arrival]:
    """Draw every arrival of the day; booked patients get a real appointment first."""
    arrivals: list[Arrival] = []
    hours = list(ARRIVALS_BY_HOUR)
    weights = [ARRIVALS_BY_HOUR[h] for h in hours]
    kinds, kind_weights = list(KIND_MIX), list(KIND_MIX.values())
    seq = 0
    for index, (clinic, n) in enumerate(
        zip(clinics, split(scenario.tokens, len(clinics)), strict=True)
    ):
        system = Actor.system(
            clinic.tenant_id, clock=FrozenClock(instant(day, OPEN) - dt.timedelta(days=3))
        )
        taken_slots: set[tuple[int, dt.datetime]] = set()
        with database.transaction(clinic.tenant_id) as session:
            for i in range(n):
                hour = rng.choices(hours, weights)[0]
                at = instant(day, dt.time(hour)) + dt.timedelta(seconds=rng.randrange(3600))
                kind = rng.choices(kinds, kind_weights)[0]
                doctor_id, dept_id = rng.choice(clinic.doctors)
                patient = clinic.patients[i]
                appointment = None
                named = kind in ("booked", "follow_up") or rng.random() < NAMED_DOCTOR_RATE
                if kind == "booked":
                    slot = _slot_near(at, taken_slots, doctor_id, day)
                    if slot is None:
                        kind = "walk_in"
                    else:
                        appt = book_appointment(
                            session,
                            system,
                            doctor_id=doctor_id,
                            patient_id=patient,
                            slot_start=slot,
                        )
                        appointment = appt.id
                        at = slot - dt.timedelta(minutes=rng.uniform(-10, 30))
                arrivals.append(
                    Arrival(
                        at=max(at, instant(day, OPEN)),
                        seq=seq,
                        tenant_index=index,
                        patient_id=patient,
                        kind=kind,
                        department_id=dept_id,
                        doctor_id=doctor_id if named else None,
                        appointment_id=appointment,
                    )
                )
                seq += 1
    return sorted(arrivals)


def _slot_near(
    at: dt.datetime, taken: set[tuple[int, dt.datetime]], doctor_id: int, day: dt.date
) -> dt.datetime | None:
    """The first free slot of the doctor at or after ``at`` (5-minute grid) before closing."""
    local = at.astimezone(ZONE)
    minute = (local.minute // SLOT_MINUTES + 1) * SLOT_MINUTES  # the next slot boundary
    slot = local.replace(minute=0, second=0, microsecond=0) + dt.timedelta(minutes=minute)
    while slot.time() < dt.time(19):
        key = (doctor_id, slot.astimezone(dt.UTC))
        if key not in taken:
            taken.add(key)
            return key[1]
        slot += dt.timedelta(minutes=SLOT_MINUTES)
    return None
