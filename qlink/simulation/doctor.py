"""Each simulated doctor: a plan for the day and a small state machine driven tick by tick.

A doctor is idle, has called someone, is consulting, or is paused. When idle they call next;
a called patient either comes in (the consultation lasts a random time around the doctor's
hidden pace) or does not (marked missed after a couple of minutes, and sometimes recalled
later). A finished consultation sometimes goes to the lab and comes back. Every doctor pauses
once mid-day, and the first doctor of each clinic starts late. Idle doctors with nobody to
call sleep until someone arrives in their department.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from dataclasses import dataclass

from core.queue.calling import call_next
from core.queue.doctor_day import pause_doctor, resume_doctor
from core.queue.lifecycle import (
    finish_token,
    mark_missed,
    send_to_lab,
    start_consultation,
)
from db.engine import Database
from qlink.simulation.record import DayLog, run_command
from qlink.simulation.scenario import (
    LAB_RATE,
    MISS_AFTER,
    NO_SHOW_RATE,
    OPEN,
    RECALL_RATE,
    Clinic,
    instant,
)


@dataclass
class DoctorState:
    """A doctor's simulated state machine."""

    clinic: int
    doctor_id: int
    pace: float
    token_id: int | None = None
    phase: str = "idle"  # idle | called | consulting | paused
    until: dt.datetime | None = None
    no_show: bool = False
    pause_at: dt.datetime | None = None
    pause_len: int = 15
    start_at: dt.datetime | None = None
    department_id: int = 0
    asleep: bool = False  # nobody was waiting: wait for an arrival in the department


def plan_doctors(clinics: list[Clinic], rng: random.Random, day: dt.date) -> list[DoctorState]:
    """Every doctor's plan: a pause mid-day, and the first doctor of each clinic starts late."""
    plans = []
    for c, clinic in enumerate(clinics):
        for n, (doctor_id, dept_id) in enumerate(clinic.doctors):
            pause_at = instant(day, dt.time(11)) + dt.timedelta(minutes=rng.randrange(0, 240))
            plans.append(
                DoctorState(
                    clinic=c,
                    doctor_id=doctor_id,
                    pace=clinic.pace[doctor_id],
                    pause_at=pause_at,
                    pause_len=rng.randrange(10, 25),
                    start_at=instant(day, OPEN) + dt.timedelta(minutes=20 if n == 0 else 0),
                    department_id=dept_id,
                )
            )
    return plans


def act(
    database: Database,
    clinics: list[Clinic],
    d: DoctorState,
    *,
    now: dt.datetime,
    log: DayLog,
    rngs: dict[int, random.Random],
) -> list[tuple[dt.datetime, int, int, str]]:
    """One doctor's move this tick; returns later comebacks (lab returns, recalls)."""
    clinic = clinics[d.clinic]
    rng = rngs[d.doctor_id]
    later: list[tuple[dt.datetime, int, int, str]] = []
    if d.start_at is not None and now < d.start_at:
        return later
    if d.phase == "paused":
        if d.until is not None and now >= d.until:
            run_command(
                database,
                clinic,
                now,
                log,
                "resume",
                lambda s, a: resume_doctor(s, a, doctor_id=d.doctor_id),
            )
            d.phase, d.until = "idle", None
        return later
    if d.phase == "called" and d.until is not None and now >= d.until:
        token_id = d.token_id
        assert token_id is not None
        if d.no_show:
            run_command(
                database,
                clinic,
                now,
                log,
                "missed",
                lambda s, a: mark_missed(s, a, token_id=token_id),
            )
            if rng.random() < RECALL_RATE:
                later.append(
                    (now + dt.timedelta(minutes=rng.uniform(10, 40)), d.clinic, token_id, "recall")
                )
            d.phase, d.token_id = "idle", None
        else:
            run_command(
                database,
                clinic,
                now,
                log,
                "start",
                lambda s, a: start_consultation(s, a, token_id=token_id),
            )
            minutes = max(rng.lognormvariate(0, 0.35) * d.pace, 0.5)
            d.phase, d.until = "consulting", now + dt.timedelta(minutes=minutes)
        return later
    if d.phase == "consulting" and d.until is not None and now >= d.until:
        token_id = d.token_id
        assert token_id is not None
        if rng.random() < LAB_RATE:
            run_command(
                database, clinic, now, log, "lab", lambda s, a: send_to_lab(s, a, token_id=token_id)
            )
            later.append(
                (now + dt.timedelta(minutes=rng.uniform(20, 60)), d.clinic, token_id, "lab")
            )
        else:
            run_command(
                database,
                clinic,
                now,
                log,
                "finish",
                lambda s, a: finish_token(s, a, token_id=token_id),
            )
        d.phase, d.token_id, d.until = "idle", None, None
    if d.phase != "idle":
        return later
    if d.pause_at is not None and now >= d.pause_at:
        run_command(
            database,
            clinic,
            now,
            log,
            "pause",
            lambda s, a: pause_doctor(s, a, doctor_id=d.doctor_id, minutes=15, reason="Break"),
        )
        d.phase, d.until, d.pause_at = "paused", now + dt.timedelta(minutes=d.pause_len), None
        return later
    if d.asleep:
        return later
    started = time.perf_counter()
    called = run_command(
        database, clinic, now, log, "call", lambda s, a: call_next(s, a, doctor_id=d.doctor_id)
    )
    with log.lock:
        log.call_ms.append((time.perf_counter() - started) * 1000)
        if called is not None:
            log.calls_by_tenant[clinic.tenant_id].append(called.id)
    if called is None:
        d.asleep = True
        return later
    d.phase, d.token_id = "called", called.id
    d.no_show = rng.random() < NO_SHOW_RATE
    if d.no_show:  # marked missed if they have not come in a couple of minutes
        d.until = now + MISS_AFTER
        return later
    token_id = called.id
    run_command(
        database,
        clinic,
        now,
        log,
        "start",
        lambda s, a: start_consultation(s, a, token_id=token_id),
    )
    minutes = max(rng.lognormvariate(0, 0.35) * d.pace, 0.5)
    d.phase, d.until = "consulting", now + dt.timedelta(minutes=minutes)
    return later
