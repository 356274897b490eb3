"""Estimated wait time (EWT): explainable arithmetic over a doctor's recent pace.

``wait = current consultation's remaining time + ahead × average ÷ active doctors
+ remaining pause + announced delay``, rounded up to whole minutes (SPEC §4, §5 example 2).

An overrunning consultation counts as 0 minutes left (``OVERRUN_FLOOR_MINUTES``): it may end at
any moment, and ETAs are recomputed on every queue event, so the next event moves them.
A paused doctor adds the time left until ``DoctorSession.paused_until``; an announced delay adds
the time left until ``DoctorSession.delay_until`` (see ``core.queue.doctor_day``).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.auth.permissions import require
from core.context import Actor, load_owned, tenant_of
from core.queue.eta_projection import doctor_free_minutes, lab_returns, project
from core.queue.line import RECENT, load_line
from core.queue.place import queue_place
from core.queue.scoring import Candidate, rank
from db.models import Doctor, QueueToken

DEFAULT_WINDOW = 5
OVERRUN_FLOOR_MINUTES = 0.0


@dataclass(frozen=True)
class WaitEstimate:
    """A wait in whole minutes (rounded up), its ETA and the parts that make it up."""

    minutes: int
    eta: dt.datetime
    remaining_current: float
    queue_minutes: float
    pause_minutes: float
    delay_minutes: float
    explanation: str


@dataclass(frozen=True)
class TokenEta:
    """A waiting token's place in the calling order and its estimate."""

    token_id: int
    code: str
    position: int
    minutes: int
    eta: dt.datetime
    explanation: str
    low: dt.datetime | None = None  # the 80 % range of the call time (``eta_range``)
    high: dt.datetime | None = None


def estimate_wait(
    *,
    now: dt.datetime,
    avg_minutes: float,
    current_started_at: dt.datetime | None,
    ahead: int,
    active_doctors: int = 1,
    paused_until: dt.datetime | None = None,
    delay_minutes: float = 0,
) -> WaitEstimate:
    """Estimate the wait of a patient with ``ahead`` patients before them."""
    current = _remaining_current(now, avg_minutes, current_started_at)
    queue = ahead * avg_minutes / max(active_doctors, 1)
    pause = _minutes_until(now, paused_until)
    delay = float(max(delay_minutes, 0))
    minutes = math.ceil(round(current + queue + pause + delay, 6))
    text = _explain(current, current_started_at, ahead, avg_minutes, active_doctors, pause, delay)
    return WaitEstimate(
        minutes,
        now + dt.timedelta(minutes=minutes),
        current,
        queue,
        pause,
        delay,
        f"{text} = {minutes} min",
    )


def _remaining_current(now: dt.datetime, avg: float, started_at: dt.datetime | None) -> float:
    """Average minus elapsed for a consultation in progress (floored on overrun), else 0."""
    if started_at is None:
        return 0.0
    elapsed = (now - started_at).total_seconds() / 60
    return max(avg - elapsed, OVERRUN_FLOOR_MINUTES)


def _minutes_until(now: dt.datetime, until: dt.datetime | None) -> float:
    """Minutes from ``now`` to ``until`` (0 when absent or past)."""
    if until is None:
        return 0.0
    return max((until - now).total_seconds() / 60, 0.0)


def _explain(
    current: float,
    started_at: dt.datetime | None,
    ahead: int,
    avg: float,
    doctors: int,
    pause: float,
    delay: float,
) -> str:
    """Spell the sum out for a receptionist."""
    if started_at is None:
        parts = ["no consultation in progress"]
    elif current <= OVERRUN_FLOOR_MINUTES:
        parts = ["current consultation overrunning (0 min left)"]
    else:
        parts = [f"current consultation {_num(current)} min left"]
    pool = f" ÷ {doctors} doctors" if doctors > 1 else ""
    parts.append(f"{ahead} ahead × {_num(avg)} min{pool}")
    if pause > 0:
        parts.append(f"pause {_num(pause)} min left")
    if delay > 0:
        parts.append(f"announced delay {_num(delay)} min")
    return " + ".join(parts)


def _num(value: float) -> str:
    """Format minutes without trailing zeros (15, 27.5)."""
    return f"{round(value, 1):g}"


def doctor_queue_etas(session: Session, actor: Actor, *, doctor_id: int) -> list[TokenEta]:
    """Estimate each of today's waiting tokens in the doctor's line, in calling order.

    The line is the doctor's own tokens plus the department-pool tokens the projection
    (``etas.project``) expects this doctor to call; the numbers are the ones stored on tokens.
    """
    require(actor, "queue.read")
    now = actor.clock()
    tenant_id = tenant_of(session, actor)
    doctor = load_owned(session, actor, Doctor, doctor_id, "Doctor")
    place = queue_place(session, tenant_id, doctor.department_id)
    day, rules = place.service_date(now), place.rules
    line = load_line(session, tenant_id, place, day, rules, include=doctor.id, since=now - RECENT)
    me = line.doctor(doctor.id)
    if me is None:  # an inactive doctor has no line
        return []
    codes = {r.candidate.id: r.code for r in line.waiting}
    returning = lab_returns(line, now, rules)
    learned = place.calibration
    projections = project(
        line.waiting,
        line.roster,
        now,
        rules,
        returning=returning,
        band=learned.band,
        bias=learned.bias,
    )
    mine = sorted(
        (p for p in projections.values() if p.doctor_id == doctor.id), key=lambda p: p.position
    )
    _current, pause, delay = doctor_free_minutes(me, now)
    etas = []
    for p in mine:
        est = estimate_wait(
            now=now,
            avg_minutes=me.avg_minutes,
            current_started_at=me.current_started_at,
            ahead=p.ahead,
            paused_until=now + dt.timedelta(minutes=pause) if pause else None,
            delay_minutes=delay,
        )
        etas.append(
            TokenEta(
                p.token_id,
                codes[p.token_id],
                p.position,
                p.minutes,
                p.eta,
                est.explanation,
                p.low,
                p.high,
            )
        )
    return etas


def pool_order(session: Session, actor: Actor, *, department_id: int, day: dt.date) -> list[int]:
    """Ids of the department's unassigned waiting tokens of ``day``, in calling order.

    Ranked by the same rules as ``call_next`` (tenant and department weights, booked virtual
    place); the screens and the patient page show the pool in this order.
    """
    require(actor, "queue.read")
    tenant_id = tenant_of(session, actor)
    place = queue_place(session, tenant_id, department_id)
    rows = session.execute(
        select(
            QueueToken.id,
            QueueToken.kind,
            QueueToken.issued_at,
            QueueToken.target_at,
            QueueToken.department_id,
        ).where(
            QueueToken.tenant_id == tenant_id,
            QueueToken.department_id == department_id,
            QueueToken.service_date == day,
            QueueToken.status == "waiting",
            QueueToken.doctor_id.is_(None),
        )
    ).all()
    order = rank([Candidate(*row) for row in rows], actor.clock(), place.rules)
    return [c.id for c in order]
