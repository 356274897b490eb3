"""Import simulated past days as rows: appointments, tokens, consultations, records, bills.

History is past data, which booking rules rightly refuse, so it is written with bulk inserts;
it still satisfies every constraint (one seat per slot, contiguous token numbers per department
and day, counters left at their last value so live numbering continues).
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, update
from sqlalchemy.orm import Session

from db.models import Appointment, Consultation, Patient, QueueToken, TokenCounter
from qlink.seed.bills import insert_bills
from qlink.seed.catalog import CANCEL_REASONS
from qlink.seed.patients import SeedPatient
from qlink.seed.plans import DoctorPlan, Visit
from qlink.seed.records import DoneVisit, insert_clinical
from qlink.seed.visits import simulate

Row = dict[str, Any]


@dataclass(frozen=True)
class SeededDoctor:
    id: int
    name: str
    department_id: int
    user_id: int
    fee_minor: int
    room: str
    plan: DoctorPlan


@dataclass(frozen=True)
class Clinic:
    """What the importer needs to know about a configured clinic."""

    tenant_id: int
    branch_id: int
    zone: ZoneInfo
    doctors: Sequence[SeededDoctor]
    reception_id: int
    patients: Sequence[SeedPatient]

    def at(self, day: dt.date, minutes: float) -> dt.datetime:
        """Return the UTC instant ``minutes`` after local midnight of ``day``."""
        midnight = dt.datetime.combine(day, dt.time(), tzinfo=self.zone)
        return (midnight + dt.timedelta(minutes=minutes)).astimezone(dt.UTC)


@dataclass(frozen=True)
class HistoryCounts:
    appointments: int
    tokens: int
    consultations: int
    bills: int


def import_history(
    session: Session, clinic: Clinic, rng: random.Random, days: list[dt.date]
) -> HistoryCounts:
    """Simulate ``days`` and write them; return how many rows of each kind were imported."""
    visits = simulate(rng, [d.plan for d in clinic.doctors], list(clinic.patients), days)
    appointments = _insert_appointments(session, clinic, visits)
    tokens = _insert_tokens(session, clinic, visits, appointments)
    _insert_counters(session, clinic, visits)
    done = _insert_consultations(session, clinic, visits, appointments, tokens)
    insert_clinical(session, clinic.tenant_id, rng, done)
    bills = insert_bills(
        session, clinic.tenant_id, clinic.branch_id, clinic.reception_id, rng, done
    )
    _backdate_patients(session, clinic, visits, days[0] if days else None)
    return HistoryCounts(len(appointments), len(tokens), len(done), bills)


def _insert_appointments(session: Session, clinic: Clinic, visits: list[Visit]) -> dict[int, int]:
    booked = [(i, v) for i, v in enumerate(visits) if v.slot is not None]
    if not booked:
        return {}
    rows = [_appointment_row(clinic, v) for _, v in booked]
    stmt = insert(Appointment).returning(Appointment.id, sort_by_parameter_order=True)
    ids = list(session.scalars(stmt, rows))
    return {i: aid for (i, _), aid in zip(booked, ids, strict=True)}


def _appointment_row(clinic: Clinic, v: Visit) -> Row:
    assert v.slot is not None
    doctor = clinic.doctors[v.doctor]
    start, end = clinic.at(v.day, v.slot[0]), clinic.at(v.day, v.slot[1])
    booked_at = start - dt.timedelta(minutes=v.booked_lead)
    cancelled = start - dt.timedelta(minutes=v.cancelled_before)
    times = _token_times(clinic, v)
    last = {"cancelled": cancelled, "no_show": end + dt.timedelta(hours=2)}.get(
        v.appt_status or "", times["finished_at"] or end
    )
    return {
        "tenant_id": clinic.tenant_id,
        "branch_id": clinic.branch_id,
        "department_id": doctor.department_id,
        "doctor_id": doctor.id,
        "patient_id": clinic.patients[v.patient].id,
        "slot_start": start,
        "slot_end": end,
        "service_date": v.day,
        "seat": 1,
        "overbooked": False,
        "visit_type": v.visit_type,
        "source": v.source,
        "status": v.appt_status,
        "booked_by": clinic.reception_id if v.source == "reception" else None,
        "cancel_reason": _cancel_reason(v) if v.appt_status == "cancelled" else None,
        "cancelled_at": cancelled if v.appt_status == "cancelled" else None,
        "checked_in_at": times["issued_at"],
        "started_at": times["started_at"],
        "completed_at": times["finished_at"],
        "created_at": booked_at,
        "updated_at": last,
    }


def _cancel_reason(v: Visit) -> str:
    return CANCEL_REASONS[(v.patient + v.day.toordinal()) % len(CANCEL_REASONS)]


def _token_times(clinic: Clinic, v: Visit) -> dict[str, dt.datetime | None]:
    def at(minutes: float | None) -> dt.datetime | None:
        return None if minutes is None else clinic.at(v.day, minutes)

    issued = at(v.issued) if v.kind is not None else None
    return {
        "issued_at": issued,
        "called_at": at(v.called),
        "started_at": at(v.started),
        "finished_at": at(v.finished),
        "eta_at": at(v.eta),
    }


def _insert_tokens(
    session: Session, clinic: Clinic, visits: list[Visit], appointments: dict[int, int]
) -> dict[int, int]:
    issued = [(i, v) for i, v in enumerate(visits) if v.kind is not None]
    if not issued:
        return {}
    rows = [_token_row(clinic, v, appointments.get(i)) for i, v in issued]
    stmt = insert(QueueToken).returning(QueueToken.id, sort_by_parameter_order=True)
    ids = list(session.scalars(stmt, rows))
    return {i: tid for (i, _), tid in zip(issued, ids, strict=True)}


def _token_row(clinic: Clinic, v: Visit, appointment_id: int | None) -> Row:
    doctor = clinic.doctors[v.doctor]
    times = _token_times(clinic, v)
    session_half = "AM" if v.issued < 13 * 60 else "PM"
    return {
        "tenant_id": clinic.tenant_id,
        "branch_id": clinic.branch_id,
        "department_id": doctor.department_id,
        "doctor_id": doctor.id,
        "patient_id": clinic.patients[v.patient].id,
        "appointment_id": appointment_id,
        "service_date": v.day,
        "queue_key": f"doctor:{doctor.id}:{session_half}",
        "number": v.number,
        "code": f"{doctor.plan.dept}-{v.number:03d}",
        "kind": v.kind,
        "status": v.token_status,
        "source": "whatsapp" if v.source == "whatsapp" else "reception",
        "room": doctor.room,
        "target_at": clinic.at(v.day, v.slot[0]) if v.slot else None,
        **times,
        "recall_count": 0,
        "issued_by": clinic.reception_id,
        "version": 4 if v.token_status == "done" else 2,
        "created_at": times["issued_at"],
    }


def _insert_counters(session: Session, clinic: Clinic, visits: list[Visit]) -> None:
    last: dict[tuple[int, dt.date], int] = {}
    for v in visits:
        if v.kind is not None:
            key = (clinic.doctors[v.doctor].department_id, v.day)
            last[key] = max(last.get(key, 0), v.number)
    rows = [
        {
            "tenant_id": clinic.tenant_id,
            "department_id": dept,
            "service_date": day,
            "last_number": number,
        }
        for (dept, day), number in sorted(last.items())
    ]
    if rows:
        session.execute(insert(TokenCounter), rows)


def _insert_consultations(
    session: Session,
    clinic: Clinic,
    visits: list[Visit],
    appointments: dict[int, int],
    tokens: dict[int, int],
) -> list[DoneVisit]:
    finished = [(i, v) for i, v in enumerate(visits) if v.token_status == "done"]
    if not finished:
        return []
    rows = []
    for i, v in finished:
        doctor, times = clinic.doctors[v.doctor], _token_times(clinic, v)
        rows.append(
            {
                "tenant_id": clinic.tenant_id,
                "patient_id": clinic.patients[v.patient].id,
                "doctor_id": doctor.id,
                "branch_id": clinic.branch_id,
                "appointment_id": appointments.get(i),
                "token_id": tokens[i],
                "status": "finished",
                "started_at": times["started_at"],
                "finished_at": times["finished_at"],
                "created_at": times["started_at"],
            }
        )
    stmt = insert(Consultation).returning(Consultation.id, sort_by_parameter_order=True)
    ids = list(session.scalars(stmt, rows))
    return [
        _done(clinic, v, cid, row) for (_, v), cid, row in zip(finished, ids, rows, strict=True)
    ]


def _done(clinic: Clinic, v: Visit, consultation_id: int, row: Row) -> DoneVisit:
    doctor = clinic.doctors[v.doctor]
    return DoneVisit(
        consultation_id=consultation_id,
        patient_id=row["patient_id"],
        patient=clinic.patients[v.patient],
        dept=doctor.plan.dept,
        doctor_id=doctor.id,
        doctor_name=doctor.name,
        doctor_user_id=doctor.user_id,
        appointment_id=row["appointment_id"],
        fee_minor=doctor.fee_minor,
        follow_up=v.visit_type == "follow_up",
        started_at=row["started_at"],
        finished_at=row["finished_at"],
    )


def _backdate_patients(
    session: Session, clinic: Clinic, visits: list[Visit], first_day: dt.date | None
) -> None:
    """Registration dates follow each patient's first contact, so BI sees new patients arrive."""
    if first_day is None:
        return
    first: dict[int, dt.datetime] = {}
    for v in visits:
        start = clinic.at(v.day, v.slot[0] - v.booked_lead if v.slot else v.issued)
        first[v.patient] = min(first.get(v.patient, start), start)
    rows = []
    for index, p in enumerate(clinic.patients):
        before = clinic.at(first_day - dt.timedelta(days=index * 37 % 700 + 1), 10 * 60)
        joined = clinic.at(first_day + dt.timedelta(days=p.joined), 9 * 60)
        when = min(first.get(index, joined), joined if p.joined else before)
        rows.append({"id": p.id, "created_at": when, "updated_at": when})
    session.execute(update(Patient), rows)
