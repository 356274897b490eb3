"""The doctors on duty in a department today, their live state and the waiting line: 2 queries.

On duty: an active doctor of the department with a weekly schedule (or a one-day override) at
the department's branch for the service day, not on whole-day leave, whose day session is not
closed. Their state is what allocation, the calling order and the EWT need: the consultation in
progress, called-but-not-started tokens, pause and announced delay, the rolling average of
recent consultations, today's load and the kinds of their latest calls (for the priority cap).
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from dataclasses import dataclass, field, replace

from sqlalchemy.orm import Session

from core.queue.line_sql import DoctorRow, TokenRow, doctors_on_duty, todays_tokens
from core.queue.place import QueuePlace
from core.queue.scoring import Candidate, QueueRules

RECENT = dt.timedelta(hours=2)  # finished consultations this recent feed the rolling average


@dataclass(frozen=True)
class DoctorState:
    """One on-duty doctor as the queue engine sees them right now."""

    doctor_id: int
    department_id: int
    room: str | None
    slot_minutes: int
    performance_weight: float
    session_status: str  # active | paused (no session row yet counts as active)
    paused_until: dt.datetime | None
    delay_until: dt.datetime | None
    avg_minutes: float
    current_started_at: dt.datetime | None
    called: int
    waiting: int
    served_today: int
    recent_kinds: tuple[str, ...]
    sd_minutes: float = 0.0  # spread of recent consultation lengths (ETA ranges)

    @property
    def busy(self) -> int:
        """Tokens on the doctor's hands: waiting for them, called, or in consultation."""
        return self.waiting + self.called + (1 if self.current_started_at else 0)

    @property
    def assigned_today(self) -> int:
        """Every token the doctor has had today (for weighted allocation)."""
        return self.busy + self.served_today


@dataclass(frozen=True)
class WaitingRow:
    """A waiting token with the line it stands in and what the ETA refresh needs of it."""

    candidate: Candidate
    doctor_id: int | None
    department_id: int
    code: str
    patient_id: int
    eta_at: dt.datetime | None
    notified_eta_at: dt.datetime | None
    recall_count: int
    branch_id: int
    near_turn_sent: bool = False


@dataclass(frozen=True)
class Line:
    """A department's on-duty doctors and every waiting token they may call, right now."""

    roster: list[DoctorState]
    waiting: list[WaitingRow]
    at_lab: list[tuple[int, dt.datetime | None]] = field(default_factory=list)  # doctor, started
    newest: int = 0  # the highest token id read (``LineTails``: tokens issued after the read)

    def doctor(self, doctor_id: int) -> DoctorState | None:
        """The state of one doctor of the roster."""
        return next((s for s in self.roster if s.doctor_id == doctor_id), None)

    def after_call(self, doctor_id: int, token_id: int, kind: str) -> Line:
        """The line once ``doctor_id`` has called ``token_id`` (no need to read it again)."""
        roster = [
            replace(
                s,
                called=s.called + 1,
                waiting=max(s.waiting - 1, 0),
                recent_kinds=(kind, *s.recent_kinds),
            )
            if s.doctor_id == doctor_id
            else s
            for s in self.roster
        ]
        waiting = [w for w in self.waiting if w.candidate.id != token_id]
        return Line(roster, waiting, self.at_lab, self.newest)


def load_line(
    session: Session,
    tenant_id: int,
    place: QueuePlace,
    day: dt.date,
    rules: QueueRules,
    *,
    include: int | None = None,
    since: dt.datetime | None = None,
) -> Line:
    """Load the department's line in two queries: doctors with sessions, today's tokens.

    ``include`` is a doctor acting now (calling next) even if not rostered for the day. The
    rolling average uses the doctor's last ``window`` consultations finished today, falling
    back to their slot length before the first one ends. With ``since``, finished tokens are
    read only from then on (recent pace; keeps the read small late in a busy day), and
    ``served_today`` counts only those.
    """
    doctors = doctors_on_duty(session, tenant_id, place, day, include)
    ids = [d[0] for d in doctors]
    tokens = todays_tokens(session, tenant_id, place.department_id, ids, day, since)
    by_doctor: dict[int, list[TokenRow]] = defaultdict(list)
    waiting: list[WaitingRow] = []
    at_lab: list[tuple[int, dt.datetime | None]] = []
    newest = 0
    for row in tokens:
        newest = max(newest, row.id)
        if row.status == "waiting":
            waiting.append(_waiting(row))
        elif row.status == "at_lab" and row.doctor_id is not None:
            at_lab.append((row.doctor_id, row.started_at))
        if row.doctor_id is not None:
            by_doctor[row.doctor_id].append(row)
    roster = [_state(d, by_doctor.get(d[0], []), rules) for d in doctors]
    return Line(roster, waiting, at_lab, newest)


def department_roster(
    session: Session,
    tenant_id: int,
    place: QueuePlace,
    day: dt.date,
    rules: QueueRules,
    *,
    include: int | None = None,
) -> list[DoctorState]:
    """Return today's on-duty doctors of the department, by id, plus doctor ``include``."""
    return load_line(session, tenant_id, place, day, rules, include=include).roster


def _state(doctor: DoctorRow, tokens: list[TokenRow], rules: QueueRules) -> DoctorState:
    """Fold a doctor's tokens of today into their live state."""
    doctor_id, dept_id, room, slot, weight, status, paused_until, delay_until = doctor
    counts: dict[str, int] = defaultdict(int)
    started: dt.datetime | None = None
    finished: list[TokenRow] = []
    calls: list[TokenRow] = []
    for t in tokens:
        counts[t.status] += 1
        if t.status == "in_consultation" and t.started_at is not None:
            started = t.started_at if started is None else max(started, t.started_at)
        if t.status == "done" and t.started_at is not None and t.finished_at is not None:
            finished.append(t)
        if t.called_at is not None:
            calls.append(t)
    finished.sort(key=lambda t: (t.finished_at, t.id), reverse=True)
    durations = [
        max((t.finished_at - t.started_at).total_seconds() / 60, 0.0)
        for t in finished[: rules.rolling_window]
        if t.finished_at is not None and t.started_at is not None
    ]
    calls.sort(key=lambda t: (t.called_at, t.id), reverse=True)
    recent = tuple(t.kind for t in calls[: max(rules.cap_every - 1, 0)])
    return DoctorState(
        doctor_id=doctor_id,
        department_id=dept_id,
        room=room,
        slot_minutes=slot,
        performance_weight=float(weight or 1.0),
        session_status=status or "active",
        paused_until=paused_until if status == "paused" else None,
        delay_until=delay_until,
        avg_minutes=sum(durations) / len(durations) if durations else float(slot),
        current_started_at=started,
        called=counts["called"],
        waiting=counts["waiting"],
        served_today=counts["done"],
        recent_kinds=recent,
        sd_minutes=consultation_spread(durations, float(slot)),
    )


DEFAULT_SPREAD = 0.5  # sd / mean of consultation lengths until a doctor has a few of their own
MIN_SAMPLES = 4


def consultation_spread(durations: list[float], slot: float) -> float:
    """The standard deviation of the doctor's recent consultation lengths, in minutes.

    With fewer than ``MIN_SAMPLES`` finished consultations, ``DEFAULT_SPREAD`` × the mean.
    """
    if len(durations) < MIN_SAMPLES:
        mean = sum(durations) / len(durations) if durations else slot
        return DEFAULT_SPREAD * mean
    mean = sum(durations) / len(durations)
    return math.sqrt(sum((d - mean) ** 2 for d in durations) / (len(durations) - 1))


def _waiting(t: TokenRow) -> WaitingRow:
    return WaitingRow(
        Candidate(t.id, t.kind, t.issued_at, t.target_at, t.department_id),
        t.doctor_id,
        t.department_id,
        t.code,
        t.patient_id,
        t.eta_at,
        t.notified_eta_at,
        t.recall_count,
        t.branch_id,
        bool(t.near_turn_sent),
    )
