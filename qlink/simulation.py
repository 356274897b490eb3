"""A whole clinic day, compressed in time, driving the real core services on a real database.

Two clinics run side by side on the configured database. Simulated time advances in ticks;
inside a tick, arrivals are issued by several threads at once (reception, WhatsApp and kiosk
at the same instant) and every doctor acts in parallel (call next, start, finish, send to the
lab, mark missed), each through ``core`` in its own transaction, with a frozen clock set to the
tick. Patients arrive by hour with a mix of kinds; consultations take a random time around each
doctor's hidden pace; some called patients do not come (some of them are recalled later), some
go to the lab and come back, every doctor pauses once and one announces a late start.

Afterwards the database itself is checked: duplicated or skipped codes, tokens acknowledged but
lost, tokens called twice, rows that crossed tenants, the longest wait per kind, and how far the
EWT given at issue was from the real wait, next to the naive "people ahead × fixed average".
"""

from __future__ import annotations

import datetime as dt
import random
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select

from core import tenancy
from core.clock import FrozenClock
from core.context import Actor
from core.errors import DomainError
from core.queue.allocation import STRATEGIES
from core.queue.calling import call_next
from core.queue.doctor_day import announce_delay, pause_doctor, resume_doctor
from core.queue.expiry import expire_past_days
from core.queue.lifecycle import (
    finish_token,
    mark_missed,
    recall_token,
    return_from_lab,
    send_to_lab,
    start_consultation,
)
from core.queue.tokens import issue_token
from core.scheduling.booking import book_appointment
from core.scheduling.doctors import add_weekly_schedule, create_doctor
from db.engine import ALL_TENANTS, Database
from db.models import Doctor, OutboxMessage, Patient, QueueEvent, QueueToken

ZONE = ZoneInfo("Asia/Kolkata")
OPEN, LAST_ARRIVAL, CLOSE = dt.time(8), dt.time(18), dt.time(21)
ARRIVALS_BY_HOUR = {8: 4, 9: 9, 10: 13, 11: 13, 12: 10, 13: 6, 14: 8, 15: 8, 16: 6, 17: 4}
KIND_MIX = {
    "walk_in": 50,
    "booked": 20,
    "follow_up": 12,
    "priority": 7,
    "vip": 4,
    "lab_return": 4,
    "emergency": 3,
}
DEPARTMENT_CODES = [
    "GEN",
    "PED",
    "ORT",
    "GYN",
    "DER",
    "ENT",
    "OPH",
    "CAR",
    "NEU",
    "PSY",
    "URO",
    "PUL",
    "GAS",
    "END",
    "NEP",
    "ONC",
    "RHE",
    "HEM",
]
SLOT_MINUTES = 10  # booking grid; the EWT's fallback before a doctor's first consultation
NO_SHOW_RATE = 0.05
RECALL_RATE = 0.5
LAB_RATE = 0.08
NAMED_DOCTOR_RATE = 0.6
MISS_AFTER = dt.timedelta(minutes=2)
WAKE_EVERY = dt.timedelta(minutes=5)  # idle doctors also look again now and then
PACE_MINUTES = (2.0, 3.5)  # each doctor's hidden mean consultation length is drawn from this


@dataclass(frozen=True)
class Scenario:
    """What to simulate."""

    tokens: int = 3000
    doctors: int = 20
    departments: int = 10
    tenants: int = 2
    seed: int = 7
    issuers: int = 8
    tick_seconds: int = 30


@dataclass
class _Clinic:
    tenant_id: int
    slug: str
    branch_id: int
    departments: list[tuple[int, str, str]]  # id, code, strategy
    doctors: list[tuple[int, int]]  # doctor id, department id
    pace: dict[int, float]  # hidden mean consultation minutes per doctor
    patients: list[int]


@dataclass(order=True)
class _Arrival:
    at: dt.datetime
    seq: int
    tenant_index: int = field(compare=False)
    patient_id: int = field(compare=False)
    kind: str = field(compare=False)
    department_id: int = field(compare=False)
    doctor_id: int | None = field(compare=False)
    appointment_id: int | None = field(compare=False, default=None)


@dataclass
class _Issued:
    tenant_id: int
    token_id: int
    kind: str
    issued_at: dt.datetime
    eta: dt.datetime | None


@dataclass
class _Doctor:
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


@dataclass
class _Log:
    """What the threads observed (guarded by a lock)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    issued: list[_Issued] = field(default_factory=list)
    issue_ms: list[float] = field(default_factory=list)
    call_ms: list[float] = field(default_factory=list)
    repeats: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    calls_by_tenant: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))
    counts: Counter[str] = field(default_factory=Counter)


def simulate(database: Database, scenario: Scenario) -> dict[str, Any]:
    """Run the day and return the summary (see the module docstring)."""
    rng = random.Random(scenario.seed)
    day = _service_day()
    started = time.perf_counter()
    clinics = [
        _setup_clinic(database, scenario, index, rng, day) for index in range(scenario.tenants)
    ]
    arrivals = _arrivals(database, scenario, clinics, rng, day)
    setup_seconds = time.perf_counter() - started
    log = _Log()
    doctors = _doctors(clinics, rng, day)
    began = time.perf_counter()
    _run_day(database, scenario, clinics, arrivals, doctors, log, day, rng)
    day_seconds = time.perf_counter() - began
    expired = _expire(database, clinics, day)
    summary = _check(database, clinics, log, day)
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


def _service_day() -> dt.date:
    """A Monday at least a week ahead (fresh clinics, so any future day is empty)."""
    today = dt.date.today()
    return today + dt.timedelta(days=7 + (7 - today.weekday()) % 7)


def _at(day: dt.date, clock: dt.time) -> dt.datetime:
    return dt.datetime.combine(day, clock, ZONE).astimezone(dt.UTC)


def _split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def _setup_clinic(
    database: Database, scenario: Scenario, index: int, rng: random.Random, day: dt.date
) -> _Clinic:
    """Create one clinic with departments, doctors (schedules) and patients via core."""
    slug = f"sim-{uuid.uuid4().hex[:8]}-{index}"
    n_depts = max(1, _split(scenario.departments, scenario.tenants)[index])
    n_doctors = max(n_depts, _split(scenario.doctors, scenario.tenants)[index])
    n_patients = _split(scenario.tokens, scenario.tenants)[index] + 50
    with database.transaction(ALL_TENANTS) as session:
        tenant = tenancy.create_tenant(
            session, Actor.system(None), slug=slug, name=f"Simulated clinic {index + 1}"
        )
    system = Actor.system(tenant.id)
    with database.transaction(tenant.id) as session:
        branch = tenancy.create_branch(session, system, slug="main", name="Main")
        departments = []
        for d in range(n_depts):
            strategy = STRATEGIES[(d + index) % len(STRATEGIES)]
            dept = tenancy.create_department(
                session,
                system,
                branch_id=branch.id,
                code=DEPARTMENT_CODES[d % len(DEPARTMENT_CODES)],
                name=f"Department {d + 1}",
                allocation_strategy=strategy,
            )
            departments.append((dept.id, dept.code, strategy))
        doctors, pace = [], {}
        for n in range(n_doctors):
            dept_id = departments[n % n_depts][0]
            doctor = create_doctor(
                session,
                system,
                department_id=dept_id,
                full_name=f"Dr. Simulated {index + 1}-{n + 1}",
                specialization="Simulation",
                fee_minor=50000,
                default_room=f"Room {n + 1}",
                default_slot_minutes=SLOT_MINUTES,
                branch_ids=[branch.id],
            )
            pace[doctor.id] = rng.uniform(*PACE_MINUTES)
            # the clinic weighs doctors by how quickly they see patients (rounded, as an
            # admin would set it): performance-weighted allocation follows real speed
            session.execute(
                Doctor.__table__.update()
                .where(Doctor.__table__.c.id == doctor.id)
                .values(performance_weight=round(3.0 / pace[doctor.id], 1))
            )
            add_weekly_schedule(
                session,
                system,
                doctor_id=doctor.id,
                branch_id=branch.id,
                weekdays=[day.weekday()],
                start=OPEN,
                end=CLOSE,
                slot_minutes=SLOT_MINUTES,
            )
            doctors.append((doctor.id, dept_id))
        patients = _bulk_patients(session, tenant.id, n_patients)
    return _Clinic(tenant.id, slug, branch.id, departments, doctors, pace, patients)


def _bulk_patients(session: Any, tenant_id: int, n: int) -> list[int]:
    """Fictional patients inserted in bulk (registration rules are not what is measured)."""
    rows = [
        {
            "tenant_id": tenant_id,
            "code": f"SIM{i:05d}",
            "full_name": f"Sim Patient {i}",
            "name_key": f"sim patient {i}",
            "preferred_language": "en",
        }
        for i in range(1, n + 1)
    ]
    session.execute(insert(Patient), rows)
    ids = session.scalars(
        select(Patient.id).where(Patient.tenant_id == tenant_id).order_by(Patient.id)
    )
    return list(ids)


def _arrivals(
    database: Database,
    scenario: Scenario,
    clinics: list[_Clinic],
    rng: random.Random,
    day: dt.date,
) -> list[_Arrival]:
    """Draw every arrival of the day; booked patients get a real appointment first."""
    arrivals: list[_Arrival] = []
    hours = list(ARRIVALS_BY_HOUR)
    weights = [ARRIVALS_BY_HOUR[h] for h in hours]
    kinds, kind_weights = list(KIND_MIX), list(KIND_MIX.values())
    seq = 0
    for index, (clinic, n) in enumerate(
        zip(clinics, _split(scenario.tokens, len(clinics)), strict=True)
    ):
        system = Actor.system(
            clinic.tenant_id, clock=FrozenClock(_at(day, OPEN) - dt.timedelta(days=3))
        )
        taken_slots: set[tuple[int, dt.datetime]] = set()
        with database.transaction(clinic.tenant_id) as session:
            for i in range(n):
                hour = rng.choices(hours, weights)[0]
                at = _at(day, dt.time(hour)) + dt.timedelta(seconds=rng.randrange(3600))
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
                    _Arrival(
                        at=max(at, _at(day, OPEN)),
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


def _doctors(clinics: list[_Clinic], rng: random.Random, day: dt.date) -> list[_Doctor]:
    """Every doctor's plan: a pause mid-day, and the first doctor of each clinic starts late."""
    plans = []
    for c, clinic in enumerate(clinics):
        for n, (doctor_id, dept_id) in enumerate(clinic.doctors):
            pause_at = _at(day, dt.time(11)) + dt.timedelta(minutes=rng.randrange(0, 240))
            plans.append(
                _Doctor(
                    clinic=c,
                    doctor_id=doctor_id,
                    pace=clinic.pace[doctor_id],
                    pause_at=pause_at,
                    pause_len=rng.randrange(10, 25),
                    start_at=_at(day, OPEN) + dt.timedelta(minutes=20 if n == 0 else 0),
                    department_id=dept_id,
                )
            )
    return plans


def _run_day(
    database: Database,
    scenario: Scenario,
    clinics: list[_Clinic],
    arrivals: list[_Arrival],
    doctors: list[_Doctor],
    log: _Log,
    day: dt.date,
    rng: random.Random,
) -> None:
    """Advance simulated time tick by tick until closing or until everyone has been seen."""
    tick = dt.timedelta(seconds=scenario.tick_seconds)
    now = _at(day, OPEN)
    close = _at(day, CLOSE)
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
            act = partial(_act, database, clinics, now=now, log=log, rngs=rngs)
            for extra in pool.map(act, doctors):
                returns.extend(extra)
            quiet = not pending and not returns and all(d.phase == "idle" for d in doctors)
            if quiet and not _anyone_waiting(database, clinics, day):
                break


def _wake(
    doctors: list[_Doctor],
    due: list[_Arrival],
    back: list[tuple[dt.datetime, int, int, str]],
    now: dt.datetime,
    day: dt.date,
) -> None:
    """Wake idle doctors of departments where someone arrived (all of a clinic on comebacks)."""
    arrived = {(a.tenant_index, a.department_id) for a in due}
    returned = {c for _at_time, c, _token, _action in back}
    periodic = (now - _at(day, OPEN)) % WAKE_EVERY < dt.timedelta(seconds=1)
    for d in doctors:
        if periodic or d.clinic in returned or (d.clinic, d.department_id) in arrived:
            d.asleep = False


def _issue(
    database: Database, clinics: list[_Clinic], a: _Arrival, *, now: dt.datetime, log: _Log
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
            log.issued.append(_Issued(clinic.tenant_id, token.id, a.kind, now, token.eta))
        else:
            log.repeats += 1


def _come_back(
    database: Database,
    clinics: list[_Clinic],
    r: tuple[dt.datetime, int, int, str],
    *,
    now: dt.datetime,
    log: _Log,
) -> None:
    """A patient back from the lab, or a missed patient who turned up after all."""
    _at_time, c, token_id, action = r
    command = return_from_lab if action == "lab" else recall_token
    _run(database, clinics[c], now, log, action, lambda s, a: command(s, a, token_id=token_id))


def _announce_late(
    database: Database, clinic: _Clinic, d: _Doctor, now: dt.datetime, log: _Log
) -> None:
    _run(
        database,
        clinic,
        now,
        log,
        "delay",
        lambda s, a: announce_delay(s, a, doctor_id=d.doctor_id, minutes=20, reason="Late start"),
    )


def _run(
    database: Database,
    clinic: _Clinic,
    now: dt.datetime,
    log: _Log,
    what: str,
    command: Callable[[Any, Actor], Any],
) -> Any:
    """Run one core command in its own transaction; count it, or count its error."""
    actor = Actor.system(clinic.tenant_id, clock=FrozenClock(now))
    try:
        with database.transaction(clinic.tenant_id) as session:
            result = command(session, actor)
    except DomainError as exc:
        with log.lock:
            log.errors[f"{what}: {type(exc).__name__}: {exc}"] += 1
        return None
    with log.lock:
        log.counts[what] += 1
    return result


def _act(
    database: Database,
    clinics: list[_Clinic],
    d: _Doctor,
    *,
    now: dt.datetime,
    log: _Log,
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
            _run(
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
            _run(
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
            _run(
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
            _run(
                database, clinic, now, log, "lab", lambda s, a: send_to_lab(s, a, token_id=token_id)
            )
            later.append(
                (now + dt.timedelta(minutes=rng.uniform(20, 60)), d.clinic, token_id, "lab")
            )
        else:
            _run(
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
        _run(
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
    called = _run(
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
    _run(
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


def _anyone_waiting(database: Database, clinics: list[_Clinic], day: dt.date) -> bool:
    with database.transaction(ALL_TENANTS, readonly=True) as session:
        waiting = session.scalar(
            select(func.count()).where(
                QueueToken.tenant_id.in_([c.tenant_id for c in clinics]),
                QueueToken.service_date == day,
                QueueToken.status.in_(("waiting", "called", "in_consultation", "at_lab")),
            )
        )
    return bool(waiting)


def _expire(database: Database, clinics: list[_Clinic], day: dt.date) -> int:
    """The next morning's clean-up: whatever is still active expires."""
    morning = _at(day + dt.timedelta(days=1), dt.time(6))
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


def _check(database: Database, clinics: list[_Clinic], log: _Log, day: dt.date) -> dict[str, Any]:
    """Read the day back from the database and check every invariant."""
    tenant_ids = [c.tenant_id for c in clinics]
    with database.transaction(ALL_TENANTS, readonly=True) as session:
        tokens = session.execute(
            select(
                QueueToken.id,
                QueueToken.tenant_id,
                QueueToken.department_id,
                QueueToken.number,
                QueueToken.code,
                QueueToken.patient_id,
                QueueToken.doctor_id,
                QueueToken.kind,
                QueueToken.status,
                QueueToken.issued_at,
                QueueToken.started_at,
                QueueToken.finished_at,
            ).where(QueueToken.tenant_id.in_(tenant_ids), QueueToken.service_date == day)
        ).all()
        events = session.execute(
            select(
                QueueEvent.tenant_id,
                QueueEvent.token_id,
                QueueEvent.type,
                QueueEvent.doctor_id,
                QueueEvent.created_at,
            )
            .where(QueueEvent.tenant_id.in_(tenant_ids))
            .order_by(QueueEvent.id)
        ).all()
        patients = dict(
            session.execute(
                select(Patient.id, Patient.tenant_id).where(Patient.tenant_id.in_(tenant_ids))
            ).all()
        )
        doctor_tenant = dict(
            session.execute(
                select(Doctor.id, Doctor.tenant_id).where(Doctor.tenant_id.in_(tenant_ids))
            ).all()
        )
        outbox = session.execute(
            select(OutboxMessage.tenant_id, OutboxMessage.payload).where(
                OutboxMessage.tenant_id.in_(tenant_ids)
            )
        ).all()
    by_id = {t.id: t for t in tokens}
    result: dict[str, Any] = {}
    numbers: dict[tuple[int, int], list[int]] = defaultdict(list)
    for t in tokens:
        numbers[(t.tenant_id, t.department_id)].append(t.number)
    result["duplicates"] = sum(len(n) - len(set(n)) for n in numbers.values()) + (
        len(tokens) - len({(t.tenant_id, t.code) for t in tokens})
    )
    result["gaps"] = sum(max(n) - len(set(n)) for n in numbers.values())
    issued_events = {e.token_id for e in events if e.type == "TokenIssued"}
    acknowledged = {i.token_id for i in log.issued}
    result["lost"] = len(acknowledged - set(by_id)) + len(set(by_id) - issued_events)
    result["double_called"] = _double_called(events)
    result["cross_tenant_leaks"] = _leaks(
        tokens, events, patients, doctor_tenant, outbox, by_id, log
    )
    first_call = _first_calls(events)
    result["max_wait_minutes_by_kind"] = _max_waits(tokens, first_call, _at(day, CLOSE))
    strategies = {dept_id: strategy for c in clinics for dept_id, _code, strategy in c.departments}
    result["mean_wait_minutes_by_kind"] = _mean_waits(tokens, first_call, lambda t: t.kind)
    result["mean_wait_minutes_by_allocation"] = _mean_waits(
        tokens, first_call, lambda t: strategies.get(t.department_id, "?")
    )
    mae, naive, measured = _ewt_accuracy(log.issued, tokens, events, first_call)
    result["ewt_mae_minutes"] = mae
    result["naive_ewt_mae_minutes"] = naive
    result["ewt_improvement_percent"] = round(100 * (naive - mae) / naive, 1) if naive else None
    result["ewt_tokens_measured"] = measured
    result["final_status"] = dict(Counter(t.status for t in tokens))
    result["tokens_by_kind"] = dict(Counter(t.kind for t in tokens))
    return result


_RECALLING = {"TokenRecalled", "TokenReturnedFromLab", "TokenTransferred"}


def _double_called(events: Iterable[Any]) -> int:
    """Tokens called again without a recall, a lab return or a transfer in between."""
    callable_again: dict[int, bool] = defaultdict(lambda: True)
    doubles = set()
    for e in events:
        if e.token_id is None:
            continue
        if e.type == "TokenCalled":
            if not callable_again[e.token_id]:
                doubles.add(e.token_id)
            callable_again[e.token_id] = False
        elif e.type in _RECALLING:
            callable_again[e.token_id] = True
    return len(doubles)


def _leaks(
    tokens: list[Any],
    events: list[Any],
    patients: dict[int, int],
    doctor_tenant: dict[int, int],
    outbox: list[Any],
    by_id: dict[int, Any],
    log: _Log,
) -> int:
    """Rows whose tenant disagrees with the rows they point at, and cross-tenant calls."""
    leaks = sum(1 for t in tokens if patients.get(t.patient_id) != t.tenant_id)
    leaks += sum(
        1
        for t in tokens
        if t.doctor_id is not None and doctor_tenant.get(t.doctor_id) != t.tenant_id
    )
    leaks += sum(
        1
        for e in events
        if e.token_id is not None
        and e.token_id in by_id
        and by_id[e.token_id].tenant_id != e.tenant_id
    )
    leaks += sum(
        1
        for tenant_id, payload in outbox
        if (payload or {}).get("token_id") in by_id
        and by_id[payload["token_id"]].tenant_id != tenant_id
    )
    for tenant_id, called in log.calls_by_tenant.items():
        leaks += sum(1 for token_id in called if by_id[token_id].tenant_id != tenant_id)
    return leaks


def _first_calls(events: Iterable[Any]) -> dict[int, dt.datetime]:
    first: dict[int, dt.datetime] = {}
    for e in events:
        if e.type == "TokenCalled" and e.token_id is not None and e.token_id not in first:
            first[e.token_id] = e.created_at
    return first


def _mean_waits(
    tokens: list[Any], first_call: dict[int, dt.datetime], group: Callable[[Any], str]
) -> dict[str, float]:
    """Mean wait from issue to first call, per group, over tokens that were called."""
    waits: dict[str, list[float]] = defaultdict(list)
    for t in tokens:
        if t.id in first_call:
            waits[group(t)].append((first_call[t.id] - t.issued_at).total_seconds() / 60)
    return {key: round(sum(v) / len(v), 1) for key, v in sorted(waits.items())}


def _max_waits(
    tokens: list[Any], first_call: dict[int, dt.datetime], close: dt.datetime
) -> dict[str, float]:
    """Longest wait from issue to first call per kind (still waiting at close counts to close)."""
    longest: dict[str, float] = defaultdict(float)
    for t in tokens:
        end = first_call.get(t.id, close)
        longest[t.kind] = max(longest[t.kind], (end - t.issued_at).total_seconds() / 60)
    return {kind: round(minutes, 1) for kind, minutes in sorted(longest.items())}


def _ewt_accuracy(
    issued: list[_Issued],
    tokens: list[Any],
    events: list[Any],
    first_call: dict[int, dt.datetime],
) -> tuple[float, float, int]:
    """MAE of the ETA given at issue and of the naive estimate, against the real first call.

    Naive: the patients already waiting in the same line (the doctor's, or the department
    pool's divided by its doctors) when the token was issued, times one fixed average: the
    day's true mean consultation length (generous: a clinic only knows it roughly).
    """
    lengths = [
        (t.finished_at - t.started_at).total_seconds() / 60
        for t in tokens
        if t.started_at is not None and t.finished_at is not None
    ]
    fixed = sum(lengths) / len(lengths) if lengths else float(SLOT_MINUTES)
    by_id = {t.id: t for t in tokens}
    line_of: dict[int, tuple[str, int]] = {}
    for e in events:
        if e.type == "TokenIssued" and e.token_id in by_id:
            dept = by_id[e.token_id].department_id
            line_of[e.token_id] = ("doctor", e.doctor_id) if e.doctor_id else ("dept", dept)
    doctors_by_dept: dict[int, set[int]] = defaultdict(set)
    for t in tokens:
        if t.doctor_id is not None:
            doctors_by_dept[t.department_id].add(t.doctor_id)
    members: dict[tuple[str, int], list[tuple[dt.datetime, dt.datetime | None]]] = defaultdict(list)
    for t in tokens:
        line = line_of.get(t.id)
        if line is not None:
            members[line].append((t.issued_at, first_call.get(t.id)))
    ours, naive = [], []
    for i in issued:
        actual_at = first_call.get(i.token_id)
        line = line_of.get(i.token_id)
        if actual_at is None or i.eta is None or line is None:
            continue
        actual = (actual_at - i.issued_at).total_seconds() / 60
        ahead = sum(
            1
            for issued_at, called_at in members[line]
            if issued_at < i.issued_at and (called_at is None or called_at > i.issued_at)
        )
        servers = 1 if line[0] == "doctor" else max(len(doctors_by_dept[line[1]]), 1)
        ours.append(abs((i.eta - i.issued_at).total_seconds() / 60 - actual))
        naive.append(abs(ahead * fixed / servers - actual))
    if not ours:
        return 0.0, 0.0, 0
    return round(sum(ours) / len(ours), 2), round(sum(naive) / len(naive), 2), len(ours)
