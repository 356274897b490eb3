"""Simulate past clinic days: who came, who was booked, and how each doctor's queue ran.

Pure and deterministic (one ``random.Random``); times are minutes after local midnight of the
service day and are turned into UTC instants only when rows are written.
"""

from __future__ import annotations

import datetime as dt
import random

from qlink.seed.patients import SeedPatient
from qlink.seed.plans import DayWindow, DoctorPlan, Visit
from qlink.seed.queue_run import number_tokens, run_queue

WEEKDAY_LOAD = (1.25, 1.05, 1.0, 0.95, 1.0, 1.1, 0.75)  # Monday rush, quiet Sunday
APPOINTMENT_SHARE = 0.5
CANCEL_RATE, NO_SHOW_RATE = 0.07, 0.10
SOURCES = (("reception", 45), ("whatsapp", 40), ("web", 15))


def simulate(
    rng: random.Random,
    doctors: list[DoctorPlan],
    patients: list[SeedPatient],
    days: list[dt.date],
) -> list[Visit]:
    """Return every visit of ``days`` (oldest first) with token numbers per department and day."""
    last_seen: dict[tuple[int, int], dt.date] = {}
    visits: list[Visit] = []
    for index, day in enumerate(days):
        trend = 0.9 + 0.2 * index / max(1, len(days) - 1)  # a clinic that is growing
        todays: list[Visit] = []
        for doctor in doctors:
            pool = [i for i, p in enumerate(patients) if p.joined <= index and fits(doctor, p)]
            todays += _doctor_day(rng, doctor, day, trend, pool, patients, last_seen)
        number_tokens(todays, doctors)
        visits += todays
    return visits


def fits(doctor: DoctorPlan, p: SeedPatient) -> bool:
    """Tell whether the patient is one this doctor sees (children, women, adults)."""
    rules = {
        "PED": p.age < 16,
        "GYN": p.gender == "female" and 18 <= p.age <= 60,
        "ORT": p.age >= 8,
    }
    return rules.get(doctor.dept, True)


def _doctor_day(
    rng: random.Random,
    doctor: DoctorPlan,
    day: dt.date,
    trend: float,
    pool: list[int],
    patients: list[SeedPatient],
    last_seen: dict[tuple[int, int], dt.date],
) -> list[Visit]:
    windows = doctor.windows.get(day.weekday(), ())
    if not windows or day in doctor.leave or not pool:
        return []
    open_minutes = sum(w.end - w.start - sum(e - s for s, e in w.breaks) for w in windows)
    noise = rng.uniform(0.75, 1.25)
    target = max(
        1, round(doctor.daily * open_minutes / 420 * WEEKDAY_LOAD[day.weekday()] * trend * noise)
    )
    chosen = _pick_patients(rng, doctor, pool, patients, target)
    visits = _book(rng, doctor, day, windows, chosen, target)
    seen = sum(v.kind is not None for v in visits)
    walk_ins = chosen[len(visits) : len(visits) + max(0, target - seen)]
    visits += _walk_ins(rng, doctor, day, windows, walk_ins, patients, last_seen)
    for v in visits:
        _set_visit_type(v, last_seen)
    run_queue(rng, windows, [v for v in visits if v.kind is not None])
    return visits


def _pick_patients(
    rng: random.Random,
    doctor: DoctorPlan,
    pool: list[int],
    patients: list[SeedPatient],
    target: int,
) -> list[int]:
    count = min(len(pool), target + target // 5)  # a few spare for cancellations/no-shows
    weights = [_weight(doctor, patients[i]) for i in pool]
    keys = sorted(
        ((rng.random() ** (1.0 / w), i) for w, i in zip(weights, pool, strict=True)), reverse=True
    )
    return [i for _, i in keys[:count]]


def _weight(doctor: DoctorPlan, p: SeedPatient) -> float:
    weight = p.weight * (2.0 if p.chronic and doctor.dept == "GEN" else 1.0)
    return weight * (0.3 if doctor.dept == "GEN" and p.age < 12 else 1.0)


def _book(
    rng: random.Random,
    doctor: DoctorPlan,
    day: dt.date,
    windows: tuple[DayWindow, ...],
    chosen: list[int],
    target: int,
) -> list[Visit]:
    slots = _slots(windows)
    wanted = min(len(slots), len(chosen), round(target * APPOINTMENT_SHARE / 0.83))
    picked = sorted(
        _weighted_sample(rng, slots, [2.0 if s < 13 * 60 else 1.0 for s, _ in slots], wanted)
    )
    visits = []
    for (start, end), patient in zip(picked, chosen, strict=False):
        visits.append(_appointment(rng, doctor, day, patient, (start, end)))
    return visits


def _slots(windows: tuple[DayWindow, ...]) -> list[tuple[int, int]]:
    slots = []
    for w in windows:
        for start in range(w.start, w.end - w.slot + 1, w.slot):
            if not any(s < start + w.slot and start < e for s, e in w.breaks):
                slots.append((start, start + w.slot))
    return slots


def _weighted_sample(
    rng: random.Random, items: list[tuple[int, int]], weights: list[float], k: int
) -> list[tuple[int, int]]:
    keyed = sorted(
        ((rng.random() ** (1.0 / w), item) for w, item in zip(weights, items, strict=True)),
        reverse=True,
    )
    return [item for _, item in keyed[:k]]


def _appointment(
    rng: random.Random, doctor: DoctorPlan, day: dt.date, patient: int, slot: tuple[int, int]
) -> Visit:
    roll = rng.random()
    status = (
        "cancelled"
        if roll < CANCEL_RATE
        else ("no_show" if roll < CANCEL_RATE + NO_SHOW_RATE else "completed")
    )
    lead = int(rng.choice((0, 0, 1, 1, 2, 3, 5, 7)) * 1440 + rng.uniform(30, 600))
    source = rng.choices([s for s, _ in SOURCES], [w for _, w in SOURCES])[0]
    visit = Visit(
        doctor.index, patient, day, slot=slot, appt_status=status, booked_lead=lead, source=source
    )
    if status == "cancelled":
        visit.cancelled_before = rng.uniform(60, max(61, lead - 10))
    if status == "completed":
        visit.kind, visit.issued = "booked", max(slot[0] - 40, slot[0] + rng.gauss(-10, 8))
    return visit


def _walk_ins(
    rng: random.Random,
    doctor: DoctorPlan,
    day: dt.date,
    windows: tuple[DayWindow, ...],
    chosen: list[int],
    patients: list[SeedPatient],
    last_seen: dict[tuple[int, int], dt.date],
) -> list[Visit]:
    visits = []
    for patient in chosen:
        kind = _walk_in_kind(rng, doctor, patients[patient], (patient, doctor.index) in last_seen)
        visits.append(
            Visit(
                doctor.index,
                patient,
                day,
                kind=kind,
                source="reception",
                issued=_arrival(rng, windows),
            )
        )
    return visits


def _walk_in_kind(rng: random.Random, doctor: DoctorPlan, p: SeedPatient, known: bool) -> str:
    roll = rng.random()
    if roll < 0.015 and doctor.dept in ("GEN", "PED", "ORT"):
        return "emergency"
    if roll < 0.08 and (p.age >= 65 or doctor.dept == "GYN"):
        return "priority"
    if known and roll < 0.2:
        return "follow_up" if roll < 0.17 else "lab_return"
    return "vip" if roll > 0.997 else "walk_in"


def _arrival(rng: random.Random, windows: tuple[DayWindow, ...]) -> float:
    first, last = windows[0], windows[-1]
    lunch = first.breaks[0][0] if first.breaks else first.end
    if rng.random() < 0.65:
        return rng.triangular(first.start - 20, lunch - 15, first.start + 30)
    resume = first.breaks[0][1] if first.breaks else first.start
    return rng.uniform(resume - 20, last.end - 30)


def _set_visit_type(v: Visit, last_seen: dict[tuple[int, int], dt.date]) -> None:
    key = (v.patient, v.doctor)
    seen = last_seen.get(key)
    v.visit_type = "follow_up" if seen and (v.day - seen).days <= 30 else "new"
    if v.appt_status in ("completed", None):
        last_seen[key] = v.day
