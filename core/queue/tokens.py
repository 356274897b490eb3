"""Issuing queue tokens: gap-free codes per department and day, one active token per queue.

The number comes from ``token_counters``: an upsert creates the day's row, then
``UPDATE … RETURNING`` takes its row lock until the caller's transaction ends, so concurrent
issuers queue on it, numbers are never duplicated and a rollback leaves no gap. The counter
update and the token INSERT share one SAVEPOINT: if a concurrent issue for the same patient
and queue wins the partial unique index, the savepoint rolls back both and the number is
released. Token issue writes the ``TokenIssued`` queue event as its audit trail; it skips
``audit.record`` on purpose (the hot path carries no PHI beyond the patient id).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.auth.permissions import require
from core.context import Actor, load_owned, tenant_of
from core.errors import Conflict, ValidationFailed
from core.patients.views import load_patient
from core.queue.events import append_event
from core.queue.place import QueuePlace, queue_place
from db.models import Appointment, Doctor, QueueToken
from db.models.queue import TOKEN_KINDS

ACTIVE = ("waiting", "called", "in_consultation", "at_lab")
SOURCES = ("reception", "whatsapp", "kiosk", "web", "system")
ACTIVE_INDEX = "uq_queue_tokens_active_patient"

_OPEN_DAY = text(
    "INSERT INTO token_counters (tenant_id, department_id, service_date, last_number) "
    "VALUES (:t, :d, :day, 0) ON CONFLICT (tenant_id, department_id, service_date) DO NOTHING"
)
_TAKE_NUMBER = text(
    "UPDATE token_counters SET last_number = last_number + 1 "
    "WHERE tenant_id = :t AND department_id = :d AND service_date = :day RETURNING last_number"
)


@dataclass(frozen=True)
class IssuedToken:
    """The token a patient holds; ``created`` is False when an active one was returned."""

    id: int
    code: str
    number: int
    kind: str
    status: str
    doctor_id: int | None
    department_id: int
    created: bool


@dataclass(frozen=True)
class _NewToken:
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


def issue_token(
    session: Session,
    actor: Actor,
    *,
    patient_id: int,
    department_id: int,
    kind: str,
    doctor_id: int | None = None,
    appointment_id: int | None = None,
    source: str = "reception",
) -> IssuedToken:
    """Give a patient the next token of a doctor's or department's queue for today.

    Row lock: the department's day counter, held until commit. A patient already holding an
    active token in that queue gets it back (``created=False``) and no number is consumed.
    """
    require(actor, "queue.issue")
    now = actor.clock()
    new = _prepare(
        session, actor, now, patient_id, department_id, kind, doctor_id, appointment_id, source
    )
    existing = _active_token(session, new)
    if existing is not None:
        return existing
    try:
        with session.begin_nested():
            number = _take_number(session, new)
            token_id = _insert_token(session, actor, new, number, now)
    except IntegrityError as exc:
        return _race_winner(session, new, exc)
    code = f"{new.place.department_code}-{number:03d}"
    append_event(
        session,
        tenant_id=new.tenant_id,
        branch_id=new.place.branch_id,
        department_id=department_id,
        doctor_id=doctor_id,
        token_id=token_id,
        type="TokenIssued",
        actor_id=actor.user_id,
        payload={"code": code, "kind": kind, "source": source, "queue_key": new.queue_key},
        at=now,
    )
    return IssuedToken(token_id, code, number, kind, "waiting", doctor_id, department_id, True)


def _prepare(
    session: Session,
    actor: Actor,
    now: dt.datetime,
    patient_id: int,
    department_id: int,
    kind: str,
    doctor_id: int | None,
    appointment_id: int | None,
    source: str,
) -> _NewToken:
    """Validate the request and resolve its queue; raise before anything is written."""
    if kind not in TOKEN_KINDS:
        raise ValidationFailed(f"Unknown token kind {kind!r}", field="kind")
    if source not in SOURCES:
        raise ValidationFailed(f"Unknown token source {source!r}", field="source")
    tenant_id = tenant_of(session, actor)
    place = queue_place(session, tenant_id, department_id)
    if doctor_id is not None:
        doctor = load_owned(session, actor, Doctor, doctor_id, "Doctor")
        if doctor.department_id != department_id or not doctor.active:
            raise ValidationFailed("The doctor does not work in that department", field="doctor_id")
    load_patient(session, tenant_id, patient_id)
    target_at = _appointment_time(session, actor, appointment_id, patient_id)
    key = f"doctor:{doctor_id}" if doctor_id is not None else f"dept:{department_id}"
    return _NewToken(
        tenant_id,
        place,
        patient_id,
        doctor_id,
        appointment_id,
        kind,
        source,
        place.service_date(now),
        key,
        target_at,
    )


def _appointment_time(
    session: Session, actor: Actor, appointment_id: int | None, patient_id: int
) -> dt.datetime | None:
    """Return the booked slot time of the patient's appointment (checked-in tokens)."""
    if appointment_id is None:
        return None
    appt = load_owned(session, actor, Appointment, appointment_id, "Appointment")
    if appt.patient_id != patient_id:
        raise ValidationFailed("The appointment is another patient's", field="appointment_id")
    return appt.slot_start


def _active_token(session: Session, new: _NewToken) -> IssuedToken | None:
    """Return the patient's active token in this queue today, if any."""
    row = session.execute(
        select(
            QueueToken.id,
            QueueToken.code,
            QueueToken.number,
            QueueToken.kind,
            QueueToken.status,
            QueueToken.doctor_id,
            QueueToken.department_id,
        ).where(
            QueueToken.tenant_id == new.tenant_id,
            QueueToken.patient_id == new.patient_id,
            QueueToken.service_date == new.day,
            QueueToken.queue_key == new.queue_key,
            QueueToken.status.in_(ACTIVE),
        )
    ).first()
    return None if row is None else IssuedToken(*row, created=False)


def _take_number(session: Session, new: _NewToken) -> int:
    """Return the next number of the department's day; locks the counter row until commit."""
    params = {"t": new.tenant_id, "d": new.place.department_id, "day": new.day}
    session.execute(_OPEN_DAY, params)
    return int(session.execute(_TAKE_NUMBER, params).scalar_one())


def _insert_token(
    session: Session, actor: Actor, new: _NewToken, number: int, now: dt.datetime
) -> int:
    """Insert the token row with one Core statement; return its id."""
    stmt = insert(QueueToken).values(
        tenant_id=new.tenant_id,
        branch_id=new.place.branch_id,
        department_id=new.place.department_id,
        doctor_id=new.doctor_id,
        patient_id=new.patient_id,
        appointment_id=new.appointment_id,
        service_date=new.day,
        queue_key=new.queue_key,
        number=number,
        code=f"{new.place.department_code}-{number:03d}",
        kind=new.kind,
        status="waiting",
        source=new.source,
        target_at=new.target_at,
        issued_at=now,
        recall_count=0,
        issued_by=actor.user_id,
        version=1,
        created_at=now,
    )
    return int(session.execute(stmt.returning(QueueToken.id)).scalar_one())


def _race_winner(session: Session, new: _NewToken, exc: IntegrityError) -> IssuedToken:
    """Return the token a concurrent issue for the same patient and queue committed first."""
    if ACTIVE_INDEX not in str(exc.orig) and "queue_tokens.queue_key" not in str(exc.orig):
        if "appointment_id" in str(exc.orig):
            raise Conflict("That appointment already has a token") from exc
        raise exc
    winner = _active_token(session, new)
    if winner is None:
        raise Conflict("The patient's token changed meanwhile; try again") from exc
    return winner
