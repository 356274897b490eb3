"""Running the day: set-up, the tick loop, issuing and comebacks, then expiry and the summary.

Simulated time advances in ticks from opening. Inside a tick the due arrivals are issued by
several threads at once (reception, WhatsApp and kiosk), patients back from the lab or
recalled after a miss come back, and every doctor acts in parallel, each command through
``core`` in its own transaction with a frozen clock set to the tick. The day ends at closing,
or earlier once everyone has been seen; the next morning's clean-up expires what is left.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

from sqlalchemy import func, select

from core.clock import FrozenClock
from core.context import Actor
from core.errors import DomainError
from core.queue.doctor_day import announce_delay
from core.queue.expiry import expire_past_days
from core.queue.issuing import issue_token
from core.queue.lifecycle import recall_token, return_from_lab
from db.engine import ALL_TENANTS, Database
from db.models import QueueToken
from db.models.queue import ACTIVE_TOKEN_STATUSES
from qlink.simulation.arrivals import Arrival, draw_arrivals
from qlink.simulation.checks import check_day
from qlink.simulation.doctor import DoctorState, act, plan_doctors
from qlink.simulation.record import DayLog, Issued, run_command
from qlink.simulation.scenario import (
    CLOSE,
    OPEN,
    WAKE_EVERY,
    Clinic,
    Scenario,
    instant,
    service_day,
    setup_clinic,
)


def simulate(database: Database, scenario: Scenario) -> dict[str, Any]:
    """Run the day and return the summary (see the package docstring)."""
    rng = random.Random(scenario.seed)
    day = service_day()
    started = time.perf_counter()
    clinics = [
        setup_clinic(database, scenario, index, rng, day) for index in range(scenario.tenants)
    ]
    arrivals = draw_arrivals(database, scenario, clinics, rng, day)
    setup_seconds = time.perf_counter() - started
    log = DayLog()
    doctors = plan_doctors(clinics, rng, day)
    began = time.perf_counter()
    _run_day(database, scenario, clinics, arrivals, doctors, log, day, rng)
    day_seconds = time.perf_counter() - began
    expired = _expire(database, clinics, day)
    summary = check_day(database, clinics, log, day)
    summary.update(
        {
            "tokens_issued": len(log.issued),
            "issue_p95_ms": _p95(log.issue_ms),
            "call_next_p95_ms": _p95(log.call_ms),
            "tokens_per_second": round(len(log.issued) / day_seconds, 1) if day_seconds else 0,
            "database": database.dialect,
            "setup_seconds": round(setup_seconds, 1),
            "day_seconds": round(day_seconds, 1),
            "expired_after_close": expired,
            "repeat_issues_returned_existing": log.repeats,
            "errors": dict(log.errors),
            "events": dict(log.counts),
            "scenario": {
                "tokens": scenario.tokens,
                "doctors": scenario.doctors,
                "departments": scenario.departments,
                "tenants": scenario.tenants,
                "seed": scenario.seed,
                "issuers": scenario.issuers,
                "service_day": day.isoformat(),
            },
        }
    )
    return summary


def _run_day(
    database: Database,
    scenario: Scenario,
    clinics: list[Clinic],
    arrivals: list[Arrival],
    doctors: list[DoctorState],
    log: DayLog,
    day: dt.date,
    rng: random.Random,
) -> None:
    """Advance simulated time tick by tick until closing or until everyone has been seen."""
    tick = dt.timedelta(seconds=scenario.tick_seconds)
    now = instant(day, OPEN)
    close = instant(day, CLOSE)
    pending = list(arrivals)
    returns: list[tuple[dt.datetime, int, int, str]] = []  # at, clinic, token, action
    seeds = {d.doctor_id: rng.randrange(1 << 30) for d in doctors}
    rngs = {doctor_id: random.Random(seed) for doctor_id, seed in seeds.items()}
    for first in {d.clinic: d for d in doctors}.values():  # a late start, announced
        _announce_late(database, clinics[first.clinic], first, now, log)
    with ThreadPoolExecutor(max_workers=max(scenario.issuers, 4)) as pool:
        while now < close:
            now += tick
            due = [a for a in pending if a.at <= now]
            pending = pending[len(due) :]
            list(pool.map(partial(_issue, database, clinics, now=now, log=log), due))
            back = [r for r in returns if r[0] <= now]
            returns = [r for r in returns if r[0] > now]
            list(pool.map(partial(_come_back, database, clinics, now=now, log=log), back))
            _wake(doctors, due, back, now, day)
            step = partial(act, database, clinics, now=now, log=log, rngs=rngs)
            for extra in pool.map(step, doctors):
                returns.extend(extra)
            quiet = not pending and not returns and all(d.phase == "idle" for d in doctors)
            if quiet and not _anyone_waiting(database, clinics, day):
                break


def _wake(
    doctors: list[DoctorState],
    due: list[Arrival],
    back: list[tuple[dt.datetime, int, int, str]],
    now: dt.datetime,
    day: dt.date,
) -> None:
    """Wake idle doctors of departments where someone arrived (all of a clinic on comebacks)."""
    arrived = {(a.tenant_index, a.department_id) for a in due}
    returned = {c for _at_time, c, _token, _action in back}
    periodic = (now - instant(day, OPEN)) % WAKE_EVERY < dt.timedelta(seconds=1)
    for d in doctors:
        if periodic or d.clinic in returned or (d.clinic, d.department_id) in arrived:
            d.asleep = False


def _issue(
    database: Database, clinics: list[Clinic], a: Arrival, *, now: dt.datetime, log: DayLog
) -> None:
    clinic = clinics[a.tenant_index]
    actor = Actor.system(clinic.tenant_id, clock=FrozenClock(now))
    try:
        started = time.perf_counter()
        with database.transaction(clinic.tenant_id) as session:
            token = issue_token(
                session,
                actor,
                patient_id=a.patient_id,
                department_id=a.department_id,
                kind=a.kind,
                doctor_id=a.doctor_id,
                appointment_id=a.appointment_id,
                source=("reception", "whatsapp", "kiosk")[a.seq % 3],
            )
        elapsed = (time.perf_counter() - started) * 1000
    except DomainError as exc:
        with log.lock:
            log.errors[f"issue: {exc}"] += 1
        return
    with log.lock:
        log.issue_ms.append(elapsed)
        if token.created:
            log.issued.append(
                Issued(
                    clinic.tenant_id,
                    token.id,
                    a.kind,
                    now,
                    token.eta,
                    token.eta_low,
                    token.eta_high,
                )
            )
        else:
            log.repeats += 1


def _come_back(
    database: Database,
    clinics: list[Clinic],
    r: tuple[dt.datetime, int, int, str],
    *,
    now: dt.datetime,
    log: DayLog,
) -> None:
    """A patient back from the lab, or a missed patient who turned up after all."""
    _at_time, c, token_id, action = r
    command = return_from_lab if action == "lab" else recall_token
    run_command(
        database, clinics[c], now, log, action, lambda s, a: command(s, a, token_id=token_id)
    )


def _announce_late(
    database: Database, clinic: Clinic, d: DoctorState, now: dt.datetime, log: DayLog
) -> None:
    run_command(
        database,
        clinic,
        now,
        log,
        "delay",
        lambda s, a: announce_delay(s, a, doctor_id=d.doctor_id, minutes=20, reason="Late start"),
    )


def _anyone_waiting(database: Database, clinics: list[Clinic], day: dt.date) -> bool:
    with database.transaction(ALL_TENANTS, readonly=True) as session:
        waiting = session.scalar(
            select(func.count()).where(
                QueueToken.tenant_id.in_([c.tenant_id for c in clinics]),
                QueueToken.service_date == day,
                QueueToken.status.in_(ACTIVE_TOKEN_STATUSES),
            )
        )
    return bool(waiting)


def _expire(database: Database, clinics: list[Clinic], day: dt.date) -> int:
    """The next morning's clean-up: whatever is still active expires."""
    morning = instant(day + dt.timedelta(days=1), dt.time(6))
    total = 0
    for clinic in clinics:
        with database.transaction(clinic.tenant_id) as session:
            actor = Actor.system(clinic.tenant_id, clock=FrozenClock(morning))
            total += expire_past_days(session, actor).tokens
    return total


def _p95(values: list[float]) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return round(ordered[max(0, int(0.95 * len(ordered) + 0.999999) - 1)], 2)
