"""The reception day board: every doctor's slots of one day at a branch, free and booked.

A read model: frozen dataclasses only, nothing an app could lazy-load. Patient names are
masked ("Ravi S.") because the board sits on a desk screen that patients can see.

Queries: a fixed handful for the branch, its doctors and the day's appointments, plus the
calendar of each doctor (``free_slots``: about six); never one per slot or per booking.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from core.auth.permissions import require
from core.context import Actor, tenant_of
from core.errors import NotFound
from core.patients.views import masked_name
from core.scheduling.slots import SEAT_HOLDING, Slot, free_slots
from core.tenancy import access_branch, tenant_timezone
from db.models import Appointment, Branch, Department, Doctor, DoctorBranch, Patient, Tenant, User

FREE = "free"
BOARD_STATUSES = (FREE, "scheduled", "checked_in", "in_consultation", "completed", "no_show")
# free_slots drops slots that started before ``now``; the board shows the whole day.
_DAWN_OF_TIME = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class BoardRow:
    """One line of a doctor's day: a free slot, or one booked seat."""

    start: dt.datetime
    label: str
    status: str
    past: bool
    seats_left: int = 0
    appointment_id: int | None = None
    patient_code: str | None = None
    patient_name: str | None = None
    overbooked: bool = False
    patient_id: int | None = None


@dataclass(frozen=True)
class DoctorDay:
    """A doctor working at the branch that day, with their rows in time order."""

    doctor_id: int
    name: str
    specialization: str
    department: str
    department_code: str
    room: str | None
    fee_minor: int
    rows: tuple[BoardRow, ...]
    department_id: int | None = None

    def count(self, status: str) -> int:
        """Return how many rows have ``status`` (free rows that already passed excluded)."""
        return sum(1 for r in self.rows if r.status == status and not (r.past and r.status == FREE))


@dataclass(frozen=True)
class DayBoard:
    """All working doctors of a branch on one local date."""

    branch_id: int
    branch_name: str
    on_date: dt.date
    timezone: str
    doctors: tuple[DoctorDay, ...]
    off_duty: tuple[str, ...]

    def totals(self) -> dict[str, int]:
        """Return row counts per status over all doctors."""
        return {s: sum(d.count(s) for d in self.doctors) for s in BOARD_STATUSES}


@dataclass(frozen=True)
class BranchChoice:
    id: int
    name: str


@dataclass(frozen=True)
class Desk:
    """What the reception header shows: who is signed in, where, and today's date there."""

    clinic_name: str
    user_name: str
    timezone: str
    today: dt.date
    branches: tuple[BranchChoice, ...]
    home_branch_id: int | None


def desk(session: Session, actor: Actor) -> Desk:
    """Return the signed-in user's clinic, branches and local today."""
    tenant_id = tenant_of(session, actor)
    tenant = session.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFound("Clinic not found")
    user = session.get(User, actor.user_id) if actor.user_id is not None else None
    branches = session.scalars(
        select(Branch)
        .where(Branch.tenant_id == tenant_id, Branch.active.is_(True))
        .order_by(Branch.name, Branch.id)
    ).all()
    choices = tuple(BranchChoice(b.id, b.name) for b in branches)
    home = actor.branch_id if actor.branch_id in {b.id for b in choices} else None
    return Desk(
        clinic_name=tenant.name,
        user_name=user.full_name if user is not None else actor.label,
        timezone=tenant.timezone,
        today=actor.clock().astimezone(ZoneInfo(tenant.timezone)).date(),
        branches=choices,
        home_branch_id=home if home is not None else (choices[0].id if choices else None),
    )


def day_board(session: Session, actor: Actor, *, branch_id: int, on_date: dt.date) -> DayBoard:
    """Return each doctor's free and booked slots at ``branch_id`` on local date ``on_date``."""
    require(actor, "appointment.read")
    tenant_id = tenant_of(session, actor)
    branch = access_branch(session, actor, branch_id)
    zone = tenant_timezone(session, tenant_id, branch)
    now = actor.clock()
    bookings = _bookings(session, tenant_id, branch_id, on_date)
    days, off_duty = [], []
    for doctor, dept_name, dept_code, room in _doctors(session, tenant_id, branch_id, on_date):
        slots = free_slots(
            session,
            tenant_id,
            doctor_id=doctor.id,
            first=on_date,
            last=on_date,
            branch_id=branch_id,
            now=_DAWN_OF_TIME,
        )
        booked = bookings.get(doctor.id, [])
        if not slots and not booked:
            off_duty.append(doctor.full_name)
            continue
        rows = _merge(slots, booked, zone, now)
        days.append(
            DoctorDay(
                doctor.id,
                doctor.full_name,
                doctor.specialization,
                dept_name,
                dept_code,
                room or doctor.default_room,
                doctor.fee_minor,
                rows,
                doctor.department_id,
            )
        )
    return DayBoard(branch.id, branch.name, on_date, zone.key, tuple(days), tuple(off_duty))


_Booking = tuple[Appointment, str, str]


def _bookings(
    session: Session, tenant_id: int, branch_id: int, on_date: dt.date
) -> dict[int, list[_Booking]]:
    """Return the day's seat-holding appointments per doctor with patient code and name."""
    rows = session.execute(
        select(Appointment, Patient.code, Patient.full_name)
        .join(
            Patient,
            and_(Patient.id == Appointment.patient_id, Patient.tenant_id == Appointment.tenant_id),
        )
        .where(
            Appointment.tenant_id == tenant_id,
            Appointment.branch_id == branch_id,
            Appointment.service_date == on_date,
            SEAT_HOLDING,
        )
        .order_by(Appointment.slot_start, Appointment.seat)
    )
    found: dict[int, list[_Booking]] = defaultdict(list)
    for appt, code, name in rows:
        found[appt.doctor_id].append((appt, code, name))
    return found


def _doctors(
    session: Session, tenant_id: int, branch_id: int, on_date: dt.date
) -> Sequence[tuple[Doctor, str, str, str | None]]:
    """Return active doctors linked to the branch, and any doctor with a booking there that day."""
    booked_there = select(Appointment.doctor_id).where(
        Appointment.tenant_id == tenant_id,
        Appointment.branch_id == branch_id,
        Appointment.service_date == on_date,
        SEAT_HOLDING,
    )
    link = and_(
        DoctorBranch.tenant_id == tenant_id,
        DoctorBranch.doctor_id == Doctor.id,
        DoctorBranch.branch_id == branch_id,
    )
    query = (
        select(Doctor, Department.name, Department.code, DoctorBranch.room)
        .join(
            Department,
            and_(Department.id == Doctor.department_id, Department.tenant_id == tenant_id),
        )
        .outerjoin(DoctorBranch, link)
        .where(
            Doctor.tenant_id == tenant_id,
            or_(
                and_(Doctor.active.is_(True), DoctorBranch.id.is_not(None)),
                Doctor.id.in_(booked_there),
            ),
        )
        .order_by(Department.name, Doctor.full_name, Doctor.id)
    )
    return [(doctor, name, code, room) for doctor, name, code, room in session.execute(query)]


def _merge(
    slots: Iterable[Slot], booked: Iterable[_Booking], zone: ZoneInfo, now: dt.datetime
) -> tuple[BoardRow, ...]:
    """Interleave free slots and booked seats; at one time, bookings come before free seats."""
    rows = [_booked_row(appt, code, name, zone, now) for appt, code, name in booked]
    rows += [
        BoardRow(s.start, s.label, FREE, s.start < now, seats_left=s.seats_left) for s in slots
    ]
    return tuple(sorted(rows, key=lambda r: (r.start, r.status == FREE)))


def _booked_row(
    appt: Appointment, code: str, name: str, zone: ZoneInfo, now: dt.datetime
) -> BoardRow:
    return BoardRow(
        start=appt.slot_start,
        label=appt.slot_start.astimezone(zone).strftime("%H:%M"),
        status=appt.status,
        past=appt.slot_end <= now,
        appointment_id=appt.id,
        patient_code=code,
        patient_name=masked_name(name),
        overbooked=appt.overbooked,
        patient_id=appt.patient_id,
    )
