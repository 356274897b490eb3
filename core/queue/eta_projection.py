"""Projected calling order and ETAs for a department, stored on tokens after every event.

``project`` is a small deterministic simulation: each on-duty doctor becomes free at
``now + current consultation's remaining time + pause left + announced delay left +
called-but-not-started × average``; the doctor who is free first takes the next token of their
own calling order (their tokens plus the department pool), then is busy for one average
consultation, and so on. For one doctor this is exactly the SPEC formula (15 + 3 × 30 = 105);
for a pool it spreads the queue across the doctors the way they will actually call it.

``refresh_etas`` runs after every queue change, in its own transaction after the change
committed (``core.queue.projection``; in the change's transaction when the session has no
projector): it stores ``eta_at`` on tokens whose ETA moved by a minute or more, and writes outbox
intents in the same transaction as those stores:
``whatsapp.eta_shift`` when an ETA moved more than the clinic's threshold since the patient was
last told, and ``whatsapp.near_turn`` once when a token comes within a few places of its turn
(``near_turn_sent``; a recall or a return from the lab starts a new turn). Only tokens whose
ETA or flags changed are written, so a quiet event costs two reads and nothing more.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.orm import Session

from core.queue.eta_calibration import (
    PRIOR,
    PRIOR_BAND,
    Calibration,
    ErrorBand,
    learned_calibration,
)
from core.queue.events import ETA_SHIFT, NEAR_TURN, enqueue_intents
from core.queue.line import RECENT, DoctorState, Line, WaitingRow, load_line
from core.queue.line_tails import LineTails, Tail
from core.queue.place import QueuePlace
from core.queue.scoring import Candidate, QueueRules, rank
from db.models import QueueToken

STORE_TOLERANCE = dt.timedelta(minutes=1)


@dataclass(frozen=True)
class Waiting:
    """A waiting token with the line it stands in (its doctor, or the department pool)."""

    candidate: Candidate
    doctor_id: int | None
    department_id: int


@dataclass(frozen=True)
class Projection:
    """Where a waiting token is expected to be called, by whom and when."""

    token_id: int
    doctor_id: int
    position: int  # 1 = next for that doctor (called-but-not-started patients count ahead)
    ahead: int
    minutes: int
    eta: dt.datetime
    low: dt.datetime | None = None  # 10th percentile of the call time (see ``eta_range``)
    high: dt.datetime | None = None  # 90th percentile
    raw_minutes: float = 0.0  # the model's wait before the learned bias (what calibration learns)
    spread: float = 0.0  # the range's consultation term, Z80 × sd × √n, in minutes


Z80 = 1.2816  # the 10th and 90th percentiles of a normal distribution are mean ∓ Z80 × sd


def consultation_term(consultations: float, sd_minutes: float) -> float:
    """The spread of ``consultations`` independent lengths of sd ``sd_minutes``: Z80 × sd × √n."""
    return Z80 * sd_minutes * math.sqrt(max(consultations, 0.0))


def eta_range(
    now: dt.datetime,
    minutes: float,
    consultations: float,
    sd_minutes: float,
    band: ErrorBand = PRIOR_BAND,
) -> tuple[dt.datetime, dt.datetime]:
    """The 80 % range of a projected call ``minutes`` from now (closed form, whole minutes).

    Two independent sources of spread, added in quadrature on each side:

    * the consultations ahead: ``consultations`` lengths varying independently with standard
      deviation ``sd_minutes`` sum to about a normal with sd ``sd × √n``, so ``Z80 × sd × √n``;
    * the model's own error (``ErrorBand``): ``band.early × scale`` before and
      ``band.late × scale`` after, with ``scale = max(minutes, band.floor_minutes)``.

    ``low = minutes − √(consult² + (early × scale)²)``, never before now;
    ``high = minutes + √(consult² + (late × scale)²)``; rounded outwards to whole minutes, so
    the range always contains the point ETA.
    """
    consult = consultation_term(consultations, sd_minutes)
    scale = max(minutes, band.floor_minutes)
    before = math.hypot(consult, band.early * scale)
    after = math.hypot(consult, band.late * scale)
    low = max(math.floor(round(minutes - before, 6)), 0)
    high = max(math.ceil(round(minutes + after, 6)), low)
    return now + dt.timedelta(minutes=low), now + dt.timedelta(minutes=high)


def doctor_free_minutes(state: DoctorState, now: dt.datetime) -> tuple[float, float, float]:
    """The doctor's current consultation left, pause left and delay left, in minutes."""
    current = 0.0
    if state.current_started_at is not None:
        elapsed = (now - state.current_started_at).total_seconds() / 60
        current = max(state.avg_minutes - elapsed, 0.0)
    pause = _left(now, state.paused_until)
    delay = _left(now, state.delay_until)
    return current, pause, delay


def _left(now: dt.datetime, until: dt.datetime | None) -> float:
    return 0.0 if until is None else max((until - now).total_seconds() / 60, 0.0)


def whole_minutes(minutes: float) -> int:
    """Round a wait up to whole minutes (float noise does not add a minute)."""
    return math.ceil(round(minutes, 6))


class InLine(Protocol):
    """What the projection needs of a waiting token."""

    @property
    def candidate(self) -> Candidate: ...
    @property
    def doctor_id(self) -> int | None: ...
    @property
    def department_id(self) -> int: ...


def project(
    waiting: Sequence[InLine],
    roster: Sequence[DoctorState],
    now: dt.datetime,
    rules: QueueRules,
    load_factors: Mapping[int, float] | None = None,
    returning: Mapping[int, list[float]] | None = None,
    band: ErrorBand = PRIOR_BAND,
    bias: float = 1.0,
) -> dict[int, Projection]:
    """Project every waiting token onto the doctor expected to call it, with its ETA.

    See ``simulate``; this is its projections alone.
    """
    return simulate(waiting, roster, now, rules, load_factors, returning, band, bias)[0]


def simulate(
    waiting: Sequence[InLine],
    roster: Sequence[DoctorState],
    now: dt.datetime,
    rules: QueueRules,
    load_factors: Mapping[int, float] | None = None,
    returning: Mapping[int, list[float]] | None = None,
    band: ErrorBand = PRIOR_BAND,
    bias: float = 1.0,
) -> tuple[dict[int, Projection], dict[int, Tail]]:
    """Project every waiting token onto the doctor expected to call it, with its ETA.

    ``returning`` gives, per doctor, the minutes from now when patients now at the lab are
    expected back: a lab return is a priority patient who has waited long, so they take the
    doctor's next consultation once back, and everyone behind moves one consultation later.
    Each ETA carries its 80 % range (``eta_range`` with ``band``). ``bias`` (learned from the
    clinic's recent calls, ``core.queue.eta_calibration``) scales every simulated wait; the
    order and the doctors are the simulation's.
    """
    loads = load_factors or {}
    back = {doctor: sorted(minutes) for doctor, minutes in (returning or {}).items()}
    orders: dict[int, list[Candidate]] = {}
    free_at: dict[int, float] = {}
    timed: dict[int, tuple[float, float, float]] = {}
    served: dict[int, int] = {}
    for state in roster:
        mine = [
            w.candidate
            for w in waiting
            if w.doctor_id == state.doctor_id
            or (w.doctor_id is None and w.department_id == state.department_id)
        ]
        orders[state.doctor_id] = rank(
            mine,
            now,
            rules,
            recent_kinds=state.recent_kinds,
            load_factors=loads,
        )
        timed[state.doctor_id] = doctor_free_minutes(state, now)
        free_at[state.doctor_id] = sum(timed[state.doctor_id]) + (state.called * state.avg_minutes)
        served[state.doctor_id] = state.called
    averages = {s.doctor_id: s.avg_minutes for s in roster}
    spreads = {s.doctor_id: s.sd_minutes for s in roster}
    # consultations (or parts of one in progress) between now and each doctor's next call
    pending = {
        s.doctor_id: s.called + (1.0 if s.current_started_at is not None else 0.0) for s in roster
    }
    taken: dict[int, Projection] = {}
    cursor = {doctor_id: 0 for doctor_id in orders}
    while True:
        doctor_id = _next_free(orders, cursor, taken, free_at)
        if doctor_id is None:
            break
        queue_back = back.get(doctor_id)
        while queue_back and queue_back[0] <= free_at[doctor_id]:
            queue_back.pop(0)  # a patient back from the lab goes in first
            served[doctor_id] += 1
            free_at[doctor_id] += averages[doctor_id]
            pending[doctor_id] += 1
        candidate = orders[doctor_id][cursor[doctor_id]]
        cursor[doctor_id] += 1
        raw = free_at[doctor_id]
        minutes = whole_minutes(raw * bias)
        ahead = served[doctor_id]
        low, high = eta_range(now, raw * bias, pending[doctor_id], spreads[doctor_id], band)
        taken[candidate.id] = Projection(
            candidate.id,
            doctor_id,
            ahead + 1,
            ahead,
            minutes,
            now + dt.timedelta(minutes=minutes),
            low,
            high,
            raw,
            consultation_term(pending[doctor_id], spreads[doctor_id]),
        )
        served[doctor_id] += 1
        free_at[doctor_id] += averages[doctor_id]
        pending[doctor_id] += 1
    tails = {}
    for state in roster:  # a walk-in joining now: after the line and lab returns due before
        d = state.doctor_id
        for due in back.get(d) or ():
            if due <= free_at[d]:
                served[d] += 1
                free_at[d] += averages[d]
                pending[d] += 1
        tails[d] = Tail(
            d,
            state.department_id,
            free_at[d],
            averages[d],
            served[d],
            pending[d],
            spreads[d],
            timed[d],
        )
    return taken, tails


def lab_returns(line: Line, now: dt.datetime, rules: QueueRules) -> dict[int, list[float]]:
    """Minutes from now until each patient at the lab is expected back, per doctor.

    Expected back ``lab_return_minutes`` after being sent, taken as one average consultation
    after the consultation started; never sooner than 5 minutes from now.
    """
    averages = {s.doctor_id: s.avg_minutes for s in line.roster}
    back: dict[int, list[float]] = {}
    for doctor_id, started_at in line.at_lab:
        if doctor_id not in averages:
            continue
        sent = (started_at or now) + dt.timedelta(minutes=averages[doctor_id])
        due = (sent - now).total_seconds() / 60 + rules.lab_return_minutes
        back.setdefault(doctor_id, []).append(max(due, 5.0))
    return back


def project_line(
    line: Line,
    now: dt.datetime,
    rules: QueueRules,
    learned: Calibration,
    *,
    also: Sequence[InLine] = (),
) -> dict[int, Projection]:
    """Project ``line``'s waiting tokens (and ``also``, e.g. a token about to be issued) with
    its lab returns and the department's learned calibration."""
    return simulate_line(line, now, rules, learned, also=also)[0]


def simulate_line(
    line: Line,
    now: dt.datetime,
    rules: QueueRules,
    learned: Calibration,
    *,
    also: Sequence[InLine] = (),
) -> tuple[dict[int, Projection], dict[int, Tail]]:
    """``project_line`` with each doctor's ``Tail`` once the line is exhausted."""
    return simulate(
        [*line.waiting, *also],
        line.roster,
        now,
        rules,
        returning=lab_returns(line, now, rules),
        band=learned.band,
        bias=learned.bias,
    )


def tail_estimate(
    stored: LineTails,
    now: dt.datetime,
    department_id: int,
    doctor_id: int | None,
    ahead: Mapping[int | None, int],
    learned: Calibration,
) -> Projection | None:
    """The projected call of a walk-in joining now, from the last projection's tails.

    ``ahead`` counts the waiting tokens issued since that projection, by doctor (None: the
    department pool); each stands ahead of the new walk-in and takes one consultation of its
    doctor (a pool token: of the doctor free first). A named token joins its doctor's line;
    a pool token goes to the doctor free first, as ``simulate`` would send it. This is exact
    when the new token ranks last in its line (a walk-in, unless a booked patient's slot is
    still ahead); the projector's run after the commit stores the full projection anyway.
    Returns None when the doctor was not on duty at the last projection.
    """
    # time since the projection shortens what passes with the clock (a consultation in
    # progress, a pause, a delay), as a projection made now would see it
    elapsed = (now - stored.at).total_seconds() / 60
    free = {
        d: [t.free_minutes - t.passed(elapsed), t.served, t.pending]
        for d, t in stored.tails.items()
    }
    pool = [d for d, t in stored.tails.items() if t.department_id == department_id]

    def first_free() -> int | None:
        return min(pool, key=lambda d: (free[d][0], d)) if pool else None

    def take(d: int | None) -> None:
        if d is None or d not in free:
            return
        state = free[d]
        state[0] += stored.tails[d].avg_minutes
        state[1] += 1
        state[2] += 1

    for d, n in sorted(ahead.items(), key=lambda item: item[0] is None):  # named, then pool
        for _ in range(n):
            take(d if d is not None else first_free())
    mine = doctor_id if doctor_id is not None else first_free()
    if mine is None or mine not in free:
        return None
    raw, served, pending = free[mine]
    wait = max(raw, 0.0) * learned.bias
    minutes = whole_minutes(wait)
    low, high = eta_range(now, wait, pending, stored.tails[mine].sd_minutes, learned.band)
    eta = now + dt.timedelta(minutes=minutes)
    return Projection(
        0, mine, int(served) + 1, int(served), minutes, eta, min(low, eta), max(high, eta), raw
    )


def _next_free(
    orders: Mapping[int, list[Candidate]],
    cursor: dict[int, int],
    taken: Mapping[int, Projection],
    free_at: Mapping[int, float],
) -> int | None:
    """The doctor free soonest who still has an untaken token (skipping taken pool tokens)."""
    best: int | None = None
    for doctor_id, order in orders.items():
        while cursor[doctor_id] < len(order) and order[cursor[doctor_id]].id in taken:
            cursor[doctor_id] += 1
        if cursor[doctor_id] >= len(order):
            continue
        if best is None or (free_at[doctor_id], doctor_id) < (free_at[best], best):
            best = doctor_id
    return best


@dataclass(frozen=True)
class Refresh:
    """What one refresh did (for tests, the simulator and metrics)."""

    projections: dict[int, Projection]
    stored: int
    shifted: int
    near_turn: int
    calibration: Calibration = PRIOR
    tails: LineTails | None = None


def refresh_etas(
    session: Session,
    tenant_id: int,
    place: QueuePlace,
    now: dt.datetime,
    *,
    include: int | None = None,
    line: Line | None = None,
) -> Refresh:
    """Recompute and store the department's ETAs; write shift and near-turn intents.

    ``line`` may be passed when the caller loaded it in this transaction and kept it up to
    date with its own change (see ``Line.after_call``); otherwise it is read afresh.
    """
    rules = place.rules
    if line is None:
        day = place.service_date(now)
        line = load_line(session, tenant_id, place, day, rules, include=include, since=now - RECENT)
    rows = line.waiting
    learned = learned_calibration(
        session, tenant_id, place.department_id, place.service_date(now), now
    )
    projections, tails = simulate_line(line, now, rules, learned)
    stores: list[dict[str, Any]] = []
    intents: list[dict[str, Any]] = []
    for row in rows:
        p = projections.get(row.candidate.id)
        if p is None:
            continue
        near = p.position <= rules.near_turn_position and not row.near_turn_sent
        change = _store(row, p, rules, near, now)
        if change is None:
            continue
        stores.append(change)
        told = row.notified_eta_at
        if told is not None and change["b_notified"] != told:
            intents.append(_intent(ETA_SHIFT, row, p, now, place))
        if near:
            intents.append(_intent(NEAR_TURN, row, p, now, place))
    if stores:
        rows_in_order = sorted(stores, key=lambda r: r["b_id"])
        session.connection().execute(_STORE, [{**r, "b_t": tenant_id} for r in rows_in_order])
    shifted = sum(1 for i in intents if i["kind"] == ETA_SHIFT)
    if intents:
        enqueue_intents(session, tenant_id=tenant_id, rows=intents, at=now)
    stored = LineTails(place.service_date(now), now, line.newest, tails)
    return Refresh(projections, len(stores), shifted, len(intents) - shifted, learned, stored)


_TOKENS = cast(Table, QueueToken.__table__)
# Skip tokens another transaction holds (it is calling or changing them and will refresh them
# itself): waiting for their locks could deadlock two desks calling at the same moment.
_LOCKED = (
    select(_TOKENS.c.id)
    .where(
        _TOKENS.c.tenant_id == bindparam("b_t"),
        _TOKENS.c.id == bindparam("b_id"),
        _TOKENS.c.status == "waiting",
    )
    .with_for_update(skip_locked=True)
    .scalar_subquery()
)
_STORE = (
    update(_TOKENS)
    .where(_TOKENS.c.tenant_id == bindparam("b_t"), _TOKENS.c.id == _LOCKED)
    .values(
        eta_at=bindparam("b_eta"),
        notified_eta_at=bindparam("b_notified"),
        near_turn_sent=bindparam("b_near"),
        # set by the first projection only: the prediction calibration learns from
        issued_wait_minutes=func.coalesce(_TOKENS.c.issued_wait_minutes, bindparam("b_wait")),
        issued_spread_minutes=func.coalesce(_TOKENS.c.issued_spread_minutes, bindparam("b_spread")),
    )
)


def _store(
    row: WaitingRow, p: Projection, rules: QueueRules, near: bool, now: dt.datetime
) -> dict[str, Any] | None:
    """The column values to write for ``row``, or None when nothing moved enough.

    The first store (``eta_at`` still empty) also gives the token its issue-time prediction:
    the raw wait counted from issue and the range's consultation term (kept by the statement
    when already set).
    """
    notified = row.notified_eta_at
    threshold = dt.timedelta(minutes=rules.eta_shift_minutes)
    if notified is None or abs(p.eta - notified) > threshold:
        notified = p.eta  # first estimate (sent with the token) or a shift worth telling
    moved = row.eta_at is None or abs(p.eta - row.eta_at) >= STORE_TOLERANCE
    if not moved and notified == row.notified_eta_at and not near:
        return None
    sent = row.near_turn_sent or near
    waited = (now - row.candidate.issued_at).total_seconds() / 60
    return {
        "b_id": row.candidate.id,
        "b_eta": p.eta,
        "b_notified": notified,
        "b_near": sent,
        "b_wait": round(max(waited, 0.0) + p.raw_minutes, 3),
        "b_spread": round(p.spread, 3),
    }


def _intent(
    kind: str, row: WaitingRow, p: Projection, now: dt.datetime, place: QueuePlace
) -> dict[str, Any]:
    """One outbox intent for a waiting patient (deduplicated by its key)."""
    token_id = row.candidate.id
    local_eta = p.eta.astimezone(place.zone)
    if kind == ETA_SHIFT:
        # Each shift is its own message: notified_eta_at, written in the same transaction, is
        # what stops repeats, so the key only has to be unique (pause, resume and pause again
        # at the same minute are three messages).
        key = f"eta_shift:{token_id}:{uuid.uuid4().hex}"
    else:
        key = f"near_turn:{token_id}:{row.recall_count}:{uuid.uuid4().hex[:12]}"
    payload = {
        "token_id": token_id,
        "patient_id": row.patient_id,
        "code": row.code,
        "doctor_id": p.doctor_id,
        "position": p.position,
        "eta": p.eta.isoformat(),
        "eta_local": local_eta.strftime("%H:%M"),
        "minutes": p.minutes,
    }
    if p.low is not None and p.high is not None:  # the 80 % range: "between 11:40 and 12:05"
        payload["eta_low_local"] = p.low.astimezone(place.zone).strftime("%H:%M")
        payload["eta_high_local"] = p.high.astimezone(place.zone).strftime("%H:%M")
    if kind == ETA_SHIFT and row.notified_eta_at is not None:
        payload["previous_eta"] = row.notified_eta_at.isoformat()
    return {"kind": kind, "payload": payload, "dedupe_key": key}
