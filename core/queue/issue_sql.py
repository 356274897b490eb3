"""The statements of token issue: the day counter, the guarded insert and the people check.

All are built once (bind parameters) and run as Core on the session's connection. The counter
row's lock, taken by ``take_number``, is held until the caller's transaction ends; it is what
makes numbers gap-free and lets ``give_back`` undo a number safely.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, case, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from core.context import Actor
from core.errors import NotFound, ValidationFailed
from core.queue.place import QueuePlace, place_from_row, place_query
from db.models import Department, Doctor, Patient, QueueToken
from db.models.queue import ACTIVE_TOKEN

_OPEN_DAY = text(
    "INSERT INTO token_counters (tenant_id, department_id, service_date, last_number) "
    "VALUES (:t, :d, :day, 0) ON CONFLICT (tenant_id, department_id, service_date) DO NOTHING"
)
_GIVE_BACK = text(
    "UPDATE token_counters SET last_number = last_number - 1 "
    "WHERE tenant_id = :t AND department_id = :d AND service_date = :day"
)
_TAKE_NUMBER = text(
    "UPDATE token_counters SET last_number = last_number + 1 "
    "WHERE tenant_id = :t AND department_id = :d AND service_date = :day RETURNING last_number"
)


@dataclass(frozen=True)
class NewToken:
    """A validated issue request bound to its queue and service day."""

    tenant_id: int
    place: QueuePlace
    patient_id: int
    doctor_id: int | None
    appointment_id: int | None
    kind: str
    source: str
    day: dt.date
    queue_key: str
    target_at: dt.datetime | None


_PATIENT = (
    select(Patient.id)
    .where(
        Patient.id == bindparam("patient"),
        Patient.tenant_id == bindparam("t"),
        Patient.erased_at.is_(None),
    )
    .scalar_subquery()
)
_DOCTOR = (
    select(Doctor.department_id * 2 + case((Doctor.active.is_(True), 1), else_=0))
    .where(Doctor.id == bindparam("doctor"), Doctor.tenant_id == bindparam("t"))
    .scalar_subquery()
)
# The department's place with the people checks in front: one statement for all of them.
_ISSUE_PLACE = place_query(_PATIENT, _DOCTOR).where(
    Department.id == bindparam("dept"), Department.tenant_id == bindparam("t")
)


def issue_place(
    session: Session, tenant_id: int, patient_id: int, department_id: int, doctor_id: int | None
) -> tuple[QueuePlace, People]:
    """The department's place (``NotFound`` for another clinic's) and what the people checks
    need: whether the patient is a live patient of the clinic, and the doctor's department.

    One lean statement (the place and two scalar subqueries) rather than loading ORM rows.
    """
    params = {
        "t": tenant_id,
        "dept": department_id,
        "patient": patient_id,
        "doctor": doctor_id or 0,
    }
    row = session.connection().execute(_ISSUE_PLACE, params).first()
    if row is None:
        raise NotFound("Department not found")
    found_patient, doctor_code, *rest = row
    return place_from_row(department_id, rest), People(found_patient is not None, doctor_code)


@dataclass(frozen=True)
class People:
    """What ``issue_place`` read of the patient and the doctor."""

    patient_found: bool
    doctor_code: int | None  # department id × 2 + 1 if active (None: no such doctor here)

    def check(self, department_id: int, doctor_id: int | None) -> None:
        """The patient is a live patient of the clinic and the doctor is in the department."""
        if not self.patient_found:
            raise NotFound("Patient not found")
        if doctor_id is None:
            return
        if self.doctor_code is None:
            raise NotFound("Doctor not found")
        if self.doctor_code != department_id * 2 + 1:
            raise ValidationFailed("The doctor does not work in that department", field="doctor_id")


_ISSUED_SINCE = text(
    "SELECT doctor_id, count(*) FROM queue_tokens WHERE id > :newest AND tenant_id = :t "
    "AND department_id = :d AND service_date = :day AND status = 'waiting' GROUP BY doctor_id"
)


def issued_since(session: Session, new: NewToken, newest: int) -> dict[int | None, int]:
    """Waiting tokens of the department with an id above ``newest``, by doctor (None: pool).

    The primary key bounds the scan to the tokens issued since (a projection's read).
    """
    params = {**counter_params(new), "newest": newest}
    rows = session.connection().execute(_ISSUED_SINCE, params)
    return {doctor_id: int(n) for doctor_id, n in rows}


def counter_params(new: NewToken) -> dict[str, object]:
    return {"t": new.tenant_id, "d": new.place.department_id, "day": new.day}


def take_number(session: Session, new: NewToken) -> int:
    """Return the next number of the department's day; locks the counter row until commit.

    The day's row is created by the first issue of the day (an upsert, safe under races).
    """
    params = counter_params(new)
    number = session.connection().execute(_TAKE_NUMBER, params).scalar()
    if number is None:
        session.connection().execute(_OPEN_DAY, params)
        number = session.connection().execute(_TAKE_NUMBER, params).scalar_one()
    return int(number)


def open_day(session: Session, new: NewToken) -> None:
    """Create the department's counter row for the day (an upsert, safe under races)."""
    session.connection().execute(_OPEN_DAY, counter_params(new))


def insert_token(
    session: Session,
    actor: Actor,
    new: NewToken,
    number: int,
    now: dt.datetime,
    doctor_id: int | None,
) -> int | None:
    """Insert the token row with one statement; None if the patient already holds one here."""
    row = {
        "tenant_id": new.tenant_id,
        "branch_id": new.place.branch_id,
        "department_id": new.place.department_id,
        "doctor_id": doctor_id,
        "patient_id": new.patient_id,
        "appointment_id": new.appointment_id,
        "service_date": new.day,
        "queue_key": new.queue_key,
        "number": number,
        "code": f"{new.place.department_code}-{number:03d}",
        "kind": new.kind,
        "status": "waiting",
        "source": new.source,
        "target_at": new.target_at,
        "issued_at": now,
        "recall_count": 0,
        "near_turn_sent": False,
        "issued_by": actor.user_id,
        "allocated_by": (
            new.place.allocation_strategy
            if doctor_id is not None and new.doctor_id is None
            else None
        ),
        "version": 1,
        "created_at": now,
    }
    connection = session.connection()
    stmt = _INSERT_TOKEN[connection.dialect.name == "postgresql"]
    token_id = connection.execute(stmt, row).scalar()
    return None if token_id is None else int(token_id)


def _guarded_insert(dialect: Any) -> Any:
    """INSERT … ON CONFLICT (active-token index) DO NOTHING RETURNING id, built once."""
    return (
        dialect.insert(QueueToken)
        .on_conflict_do_nothing(
            index_elements=["tenant_id", "patient_id", "service_date", "queue_key"],
            index_where=text(ACTIVE_TOKEN),
        )
        .returning(QueueToken.id)
    )


_INSERT_TOKEN = {True: _guarded_insert(postgresql), False: _guarded_insert(sqlite)}

# PostgreSQL: counter, guarded insert and the TokenIssued event in one statement (one round
# trip under the counter lock). The counter CTE locks the day's row until commit, exactly like
# ``take_number``; no row back means the day has no counter yet (the caller opens it). A
# number with no token id means the patient already holds an active token here (give it back).
_ISSUE_ONE = text(
    "WITH n AS (UPDATE token_counters SET last_number = last_number + 1 "
    "WHERE tenant_id = :t AND department_id = :d AND service_date = :day "
    "RETURNING last_number), "
    "c AS (SELECT last_number, CAST(:prefix AS text) || CASE WHEN last_number < 1000 "
    "THEN lpad(last_number::text, 3, '0') ELSE last_number::text END AS code FROM n), "
    "ins AS (INSERT INTO queue_tokens (tenant_id, branch_id, department_id, doctor_id, "
    "patient_id, appointment_id, service_date, queue_key, number, code, kind, status, source, "
    "target_at, issued_at, recall_count, near_turn_sent, issued_by, allocated_by, version, "
    "created_at) SELECT CAST(:t AS bigint), CAST(:branch AS bigint), CAST(:d AS bigint), "
    "CAST(:doctor AS bigint), CAST(:patient AS bigint), CAST(:appointment AS bigint), "
    "CAST(:day AS date), CAST(:key AS text), c.last_number, c.code, CAST(:kind AS text), "
    "'waiting', CAST(:source AS text), CAST(:target AS timestamptz), CAST(:now AS timestamptz), "
    "0, false, CAST(:actor AS bigint), NULL, 1, CAST(:now AS timestamptz) FROM c "
    "ON CONFLICT (tenant_id, patient_id, service_date, queue_key) "
    f"WHERE {ACTIVE_TOKEN} DO NOTHING RETURNING id, code), "
    "ev AS (INSERT INTO queue_events (tenant_id, branch_id, department_id, doctor_id, "
    "token_id, type, actor_id, payload, created_at) SELECT CAST(:t AS bigint), "
    "CAST(:branch AS bigint), CAST(:d AS bigint), CAST(:doctor AS bigint), ins.id, "
    "'TokenIssued', CAST(:actor AS bigint), "
    "jsonb_build_object('code', ins.code) || CAST(:payload AS jsonb), "
    "CAST(:now AS timestamptz) FROM ins) "
    "SELECT c.last_number, ins.id FROM c LEFT JOIN ins ON true"
)


def issue_in_one(
    session: Session, actor: Actor, new: NewToken, now: dt.datetime, payload: str
) -> tuple[int, int | None] | None:
    """Counter, insert and event in one PostgreSQL statement (a named or pool token).

    Returns (number, token id or None if the patient already holds a token here), or None when
    the day's counter does not exist yet.
    """
    params = {
        **counter_params(new),
        "prefix": f"{new.place.department_code}-",
        "branch": new.place.branch_id,
        "doctor": new.doctor_id,
        "patient": new.patient_id,
        "appointment": new.appointment_id,
        "key": new.queue_key,
        "kind": new.kind,
        "source": new.source,
        "target": new.target_at,
        "now": now,
        "actor": actor.user_id,
        "payload": payload,
    }
    row = session.connection().execute(_ISSUE_ONE, params).first()
    if row is None:
        return None
    return int(row[0]), None if row[1] is None else int(row[1])


def give_back(session: Session, new: NewToken) -> None:
    """Return the number just taken (the counter row is still locked by this transaction)."""
    session.connection().execute(_GIVE_BACK, counter_params(new))
