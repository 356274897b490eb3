"""A live-looking today for the demo clinic, whatever the weekday and the hour it is run.

Every doctor whose weekly hours do not cover the next hour gets a one-day override around
now, so the desk, the TV and the doctor page show a working clinic on a Sunday evening too.
The hours before now are then played through the real queue engine on a frozen clock
(walk-ins and follow-ups arrive, doctors call, start and finish), leaving each doctor with a
patient in consultation and people waiting; a few more appointments are booked for later.
Idempotent per day: once today has tokens, nothing is written.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.clock import Clock, FrozenClock
from core.context import Actor
from core.errors import DomainError
from core.queue.calling import call_next
from core.queue.issuing import issue_token
from core.queue.lifecycle import finish_token, start_consultation
from core.scheduling.booking import book_appointment
from core.scheduling.doctors import set_override
from core.scheduling.slots import available_slots
from db.models import Branch, Doctor, DoctorSchedule, Patient, QueueToken, Tenant
from qlink.seed.lab import send_to_lab_now

LOOK_BACK = dt.timedelta(hours=3)  # how much of today has already happened
LOOK_AHEAD = dt.timedelta(hours=4)
STEP = dt.timedelta(minutes=5)
OVERLOAD = 1.2  # arrivals per consultation slot: about three left waiting per doctor by now
LAB_NOW = 2  # patients sent for tests just now, so the lab page opens on a worklist
KINDS = ("walk_in",) * 8 + ("follow_up", "follow_up", "priority")


@dataclass(frozen=True)
class TodaySummary:
    created: bool
    doctors_on_duty: int
    tokens: int


@dataclass
class _Doctor:
    id: int
    department_id: int
    pace: float  # mean consultation minutes
    current: int | None = None
    busy_until: dt.datetime | None = None


def seed_today(session: Session, tenant_slug: str, *, clock: Clock) -> TodaySummary:
    """Give ``tenant_slug``'s first branch a live day around ``clock()``, unless it has one."""
    tenant = session.scalars(select(Tenant).where(Tenant.slug == tenant_slug)).one()
    branch = session.scalars(
        select(Branch).where(Branch.tenant_id == tenant.id).order_by(Branch.id)
    ).first()
    if branch is None:
        return TodaySummary(False, 0, 0)
    zone = ZoneInfo(branch.timezone or tenant.timezone)
    now = clock().astimezone(zone)
    today = now.date()
    existing = session.scalar(
        select(func.count()).where(
            QueueToken.tenant_id == tenant.id, QueueToken.service_date == today
        )
    )
    if existing:
        return TodaySummary(False, 0, int(existing or 0))
    admin = Actor.system(tenant.id, clock=clock)  # slots 'later' are later than clock()
    doctors = _doctors(session, tenant.id, branch.id)
    start, end = _window(now)
    for doctor in doctors:
        if not _covers(session, doctor, branch.id, today, now):
            set_override(
                session,
                admin,
                doctor_id=doctor.id,
                branch_id=branch.id,
                on_date=today,
                start=start.time(),
                end=end.time(),
                slot_minutes=doctor.default_slot_minutes,
            )
    rng = random.Random(f"qlink-demo-today:{today.isoformat()}")
    tokens = _play(session, tenant.id, doctors, rng, now, start)
    _book_later(session, admin, doctors, rng, today)
    return TodaySummary(True, len(doctors), tokens)


def _doctors(session: Session, tenant_id: int, branch_id: int) -> list[Doctor]:
    rows = session.scalars(
        select(Doctor)
        .join(DoctorSchedule, DoctorSchedule.doctor_id == Doctor.id)
        .where(
            Doctor.tenant_id == tenant_id,
            Doctor.active.is_(True),
            DoctorSchedule.branch_id == branch_id,
        )
        .distinct()
        .order_by(Doctor.id)
    )
    return list(rows)


def _window(now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """Today's working window around now, on half-hour marks, inside the calendar day."""
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    start = max(midnight, _floor(now - LOOK_BACK))
    end = min(midnight + dt.timedelta(hours=23, minutes=30), _floor(now + LOOK_AHEAD))
    if end <= now:  # the last half hour before midnight: keep a window that holds now
        start, end = (
            _floor(now) - dt.timedelta(hours=1),
            midnight + dt.timedelta(hours=23, minutes=59),
        )
    return start, end


def _floor(at: dt.datetime) -> dt.datetime:
    return at.replace(minute=at.minute - at.minute % 30, second=0, microsecond=0)


def _covers(
    session: Session, doctor: Doctor, branch_id: int, day: dt.date, now: dt.datetime
) -> bool:
    """Whether the doctor's weekly hours at the branch today run from before now to an hour on."""
    soon = (now + dt.timedelta(hours=1)).time()
    windows = session.execute(
        select(DoctorSchedule.start_time, DoctorSchedule.end_time).where(
            DoctorSchedule.doctor_id == doctor.id,
            DoctorSchedule.branch_id == branch_id,
            DoctorSchedule.weekday == day.weekday(),
            DoctorSchedule.active.is_(True),
        )
    ).all()
    return any(s <= now.time() and soon <= e for s, e in windows if now.time() < soon)


def _play(
    session: Session,
    tenant_id: int,
    doctors: list[Doctor],
    rng: random.Random,
    now: dt.datetime,
    start: dt.datetime,
) -> int:
    """Run the hours from ``start`` to ``now`` through the queue engine; return tokens issued."""
    clock = FrozenClock(start.astimezone(dt.UTC))
    desk = Actor.system(tenant_id, clock=clock)
    patients = list(
        session.scalars(
            select(Patient.id).where(Patient.tenant_id == tenant_id).order_by(Patient.id)
        )
    )
    queue = rng.sample(patients, min(len(patients), 400))
    room = [_Doctor(d.id, d.department_id, rng.uniform(7, 14)) for d in doctors]
    issued = 0
    steps = max(int((now - start) / STEP), 1)
    # Arrivals outpace the doctors a little, so a queue has built up by now.
    rate = sum(STEP.total_seconds() / 60 / d.pace for d in room) * OVERLOAD
    for step in range(steps):
        at = start + step * STEP
        _catch_up(session, desk, clock, rng, room, at)
        for _ in range(_poisson(rng, rate)):
            if not queue:
                break
            issued += _arrive(session, desk, rng, room, queue.pop())
        for doc in room:
            if doc.current is None:
                _next(session, desk, rng, doc, at)
    _catch_up(session, desk, clock, rng, room, now)
    with_doctor = [d for d in room if d.current is not None][:LAB_NOW]
    lab_rng = random.Random(f"qlink-demo-lab:{now.date().isoformat()}")  # rng's draws unchanged
    sent = send_to_lab_now(session, desk, [d.current for d in with_doctor if d.current], lab_rng)
    for doc in room:  # their patients went to the lab; the doctors call the next
        if doc.current in sent:
            doc.current, doc.busy_until = None, None
    for doc in room:  # whoever is free at "now" takes the next patient in
        if doc.current is None:
            _next(session, desk, rng, doc, now)
    return issued


def _catch_up(
    session: Session,
    desk: Actor,
    clock: FrozenClock,
    rng: random.Random,
    room: list[_Doctor],
    at: dt.datetime,
) -> None:
    """Finish every consultation due by ``at`` in time order, each doctor calling the next."""
    while True:
        due = [d for d in room if d.busy_until is not None and d.busy_until <= at]
        if not due:
            break
        doc = min(due, key=lambda d: (d.busy_until, d.id))
        assert doc.busy_until is not None and doc.current is not None
        clock.at = doc.busy_until.astimezone(dt.UTC)
        finish_token(session, desk, token_id=doc.current)
        doc.current, doc.busy_until = None, None
        _next(session, desk, rng, doc, clock.at)
    clock.at = at.astimezone(dt.UTC)


def _arrive(
    session: Session, desk: Actor, rng: random.Random, room: list[_Doctor], patient_id: int
) -> int:
    doc = rng.choice(room)
    named = rng.random() < 0.7
    try:
        token = issue_token(
            session,
            desk,
            patient_id=patient_id,
            department_id=doc.department_id,
            kind=rng.choice(KINDS),
            doctor_id=doc.id if named else None,
            source=rng.choice(("reception", "reception", "whatsapp")),
        )
    except DomainError:  # e.g. a patient who already holds a token today
        return 0
    return int(token.created)


def _next(session: Session, desk: Actor, rng: random.Random, doc: _Doctor, at: dt.datetime) -> None:
    """Call and start the doctor's next patient, if anyone is waiting."""
    called = call_next(session, desk, doctor_id=doc.id)
    if called is None:
        return
    start_consultation(session, desk, token_id=called.id)
    doc.current = called.id
    doc.busy_until = at + dt.timedelta(minutes=max(3.0, rng.gauss(doc.pace, doc.pace / 3)))


def _book_later(
    session: Session, desk: Actor, doctors: list[Doctor], rng: random.Random, today: dt.date
) -> None:
    """Book a few of the free slots left today, as the desk and WhatsApp would."""
    patients = list(
        session.scalars(
            select(Patient.id)
            .where(Patient.tenant_id == desk.tenant_id)
            .order_by(Patient.id)
            .limit(300)
        )
    )
    for doctor in doctors:
        free = available_slots(session, desk, doctor_id=doctor.id, on_date=today)
        for slot in rng.sample(free, min(len(free), 3)):
            try:
                book_appointment(
                    session,
                    desk,
                    doctor_id=doctor.id,
                    patient_id=rng.choice(patients),
                    slot_start=slot.start,
                    source=rng.choice(("reception", "whatsapp")),
                    visit_type="new",
                )
            except DomainError:  # a patient already booked nearby; the demo books another
                continue


def _poisson(rng: random.Random, mean: float) -> int:
    """Draw a Poisson count (Knuth); arrivals per step."""
    limit, k, p = pow(2.718281828459045, -mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1
