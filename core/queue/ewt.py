"""Estimated wait time (EWT): explainable arithmetic over a doctor's recent pace.

``wait = current consultation's remaining time + ahead × average ÷ active doctors
+ remaining pause + announced delay``, rounded up to whole minutes (SPEC §4, §5 example 2).

An overrunning consultation counts as 0 minutes left (``OVERRUN_FLOOR_MINUTES``): it may end at
any moment, and ETAs are recomputed on every queue event, so the next event moves them.
A paused ``DoctorSession`` is read as a pause of ``paused_minutes`` starting at ``paused_at``;
``delay_minutes`` is an announced delay added to every waiting token.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.auth.permissions import require
from core.context import Actor, load_owned, tenant_of
from core.queue.calling import waiting_candidates
from core.queue.place import queue_place
from core.queue.scoring import Candidate, rank, weights_from
from db.models import Doctor, DoctorSession, QueueToken

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


@dataclass(frozen=True)
class _DoctorState:
    """What the estimate needs about the doctor right now."""

    current_started_at: dt.datetime | None
    called: int
    paused_until: dt.datetime | None
    delay_minutes: int


def estimate_wait(
    *,
    now: dt.datetime,
    avg_minutes: float,
    current_started_at: dt.datetime | None,
    ahead: int,
    active_doctors: int = 1,
    paused_until: dt.datetime | None = None,
    delay_minutes: int = 0,
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


def rolling_average_minutes(
    session: Session,
    tenant_id: int,
    *,
    doctor_id: int,
    window: int = DEFAULT_WINDOW,
    fallback_minutes: float,
) -> float:
    """Mean duration of the doctor's last ``window`` finished consultations, or the fallback."""
    rows = session.execute(
        select(QueueToken.started_at, QueueToken.finished_at)
        .where(
            QueueToken.tenant_id == tenant_id,
            QueueToken.doctor_id == doctor_id,
            QueueToken.status == "done",
            QueueToken.started_at.is_not(None),
            QueueToken.finished_at.is_not(None),
        )
        .order_by(QueueToken.finished_at.desc(), QueueToken.id.desc())
        .limit(window)
    ).all()
    durations = [(end - start).total_seconds() / 60 for start, end in rows if start and end]
    if not durations:
        return float(fallback_minutes)
    return sum(durations) / len(durations)


def doctor_queue_etas(session: Session, actor: Actor, *, doctor_id: int) -> list[TokenEta]:
    """Estimate each of today's waiting tokens of the doctor, in calling order."""
    require(actor, "queue.read")
    now = actor.clock()
    tenant_id = tenant_of(session, actor)
    doctor = load_owned(session, actor, Doctor, doctor_id, "Doctor")
    place = queue_place(session, tenant_id, doctor.department_id)
    day = place.service_date(now)
    waiting = waiting_candidates(session, tenant_id, doctor, day, None)
    order = rank(waiting, now, weights_from(place.settings))
    avg = rolling_average_minutes(
        session, tenant_id, doctor_id=doctor.id, fallback_minutes=doctor.default_slot_minutes
    )
    state = _doctor_state(session, tenant_id, doctor.id, place.branch_id, day)
    return _etas(session, tenant_id, order, now, avg, state)


def _etas(
    session: Session,
    tenant_id: int,
    order: Sequence[Candidate],
    now: dt.datetime,
    avg: float,
    state: _DoctorState,
) -> list[TokenEta]:
    """Turn the calling order into per-token estimates."""
    codes = _codes(session, tenant_id, [c.id for c in order])
    etas = []
    for index, candidate in enumerate(order):
        est = estimate_wait(
            now=now,
            avg_minutes=avg,
            current_started_at=state.current_started_at,
            ahead=state.called + index,
            paused_until=state.paused_until,
            delay_minutes=state.delay_minutes,
        )
        code = codes[candidate.id]
        etas.append(TokenEta(candidate.id, code, index + 1, est.minutes, est.eta, est.explanation))
    return etas


def _codes(session: Session, tenant_id: int, ids: list[int]) -> dict[int, str]:
    """Token codes by id."""
    if not ids:
        return {}
    rows = session.execute(
        select(QueueToken.id, QueueToken.code).where(
            QueueToken.tenant_id == tenant_id, QueueToken.id.in_(ids)
        )
    )
    return {token_id: code for token_id, code in rows}


def _doctor_state(
    session: Session, tenant_id: int, doctor_id: int, branch_id: int, day: dt.date
) -> _DoctorState:
    """The in-consultation start, called-but-not-started count and today's pause/delay."""
    rows = session.execute(
        select(QueueToken.status, QueueToken.started_at).where(
            QueueToken.tenant_id == tenant_id,
            QueueToken.doctor_id == doctor_id,
            QueueToken.service_date == day,
            QueueToken.status.in_(("called", "in_consultation")),
        )
    ).all()
    started = [at for status, at in rows if status == "in_consultation" and at is not None]
    called = sum(1 for status, _ in rows if status == "called")
    paused_until, delay = _pause(session, tenant_id, doctor_id, branch_id, day)
    return _DoctorState(max(started, default=None), called, paused_until, delay)


def _pause(
    session: Session, tenant_id: int, doctor_id: int, branch_id: int, day: dt.date
) -> tuple[dt.datetime | None, int]:
    """Today's pause end (if paused) and announced delay from the ``DoctorSession`` row."""
    row = session.execute(
        select(
            DoctorSession.status,
            DoctorSession.paused_at,
            DoctorSession.paused_minutes,
            DoctorSession.delay_minutes,
        ).where(
            DoctorSession.tenant_id == tenant_id,
            DoctorSession.doctor_id == doctor_id,
            DoctorSession.branch_id == branch_id,
            DoctorSession.service_date == day,
        )
    ).first()
    if row is None:
        return None, 0
    status, paused_at, paused_minutes, delay = row
    if status != "paused" or paused_at is None:
        return None, delay or 0
    return paused_at + dt.timedelta(minutes=paused_minutes or 0), delay or 0
