"""Issuing queue tokens: gap-free codes per department and day, one active token per queue.

The number comes from ``token_counters``: ``UPDATE … RETURNING`` takes the day row's lock
until the caller's transaction ends (the first issue of the day creates the row with an
upsert), so concurrent issuers queue on it, numbers are never duplicated and a rollback leaves
no gap. The token INSERT skips on the one-active-token partial index (``ON CONFLICT DO
NOTHING``) instead of failing: if the patient already holds an active token in that queue, the
number is given back while the lock is still held and the existing token is returned. A
check-in of an appointment also runs in a SAVEPOINT, since two desks checking in the same
appointment meet on another unique index, and moves the appointment to ``checked_in`` in the
same transaction (``core.scheduling.attendance``). Allocation of department tokens happens under the
counter lock, so concurrent issuers see each other's choices.

The hot path is a handful of lean Core statements: place, one validation query, counter,
insert, event, then the ETA refresh (roster, waiting line, changed ETAs, intents). Token issue
writes the ``TokenIssued`` queue event as its audit trail; it skips ``audit.record`` on purpose
(the hot path carries no PHI beyond the patient id).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, replace

from sqlalchemy import ColumnElement, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.auth.permissions import require
from core.context import Actor, load_owned, tenant_of
from core.errors import Conflict, ValidationFailed
from core.plans.limits import check_token_allowed
from core.queue.allocation import choose_doctor
from core.queue.eta_projection import Projection, project_line, refresh_etas, tail_estimate
from core.queue.events import append_event
from core.queue.issue_sql import (
    NewToken,
    give_back,
    insert_token,
    issue_in_one,
    issue_place,
    issued_since,
    open_day,
    take_number,
)
from core.queue.line import RECENT, Line, WaitingRow, load_line
from core.queue.projection import defer_refresh
from core.queue.scoring import Candidate
from core.scheduling.attendance import follow_visit
from db.engine import AFTER_COMMIT
from db.models import Appointment, QueueToken
from db.models.queue import ACTIVE_TOKEN_STATUSES, TOKEN_KINDS

SOURCES = ("reception", "whatsapp", "kiosk", "web", "system")
ACTIVE_INDEX = "uq_queue_tokens_active_patient"
NEW_TOKEN = 2**62  # the id of the token about to be issued, in a projection made before it is


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
    eta: dt.datetime | None = None
    position: int | None = None
    eta_low: dt.datetime | None = None  # the 80 % range of the call time (``eta_range``)
    eta_high: dt.datetime | None = None


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
    deferred = bool(session.info.get(AFTER_COMMIT))
    guess: Projection | None = None
    if deferred and (doctor_id is not None or new.place.allocation_strategy == "pool"):
        # The new token's ETA is read before the counter lock is taken: the lock is held only
        # for counter, insert and event (the stored ETAs follow after commit). A walk-in joins
        # the end of its line, so the last projection's tails give its ETA with one small
        # read; anything else (a priority kind, no projection today yet) projects the line.
        guess = _tail_guess(session, new, now)
        if guess is None:
            line = load_line(
                session, new.tenant_id, new.place, new.day, new.place.rules, since=now - RECENT
            )
            guess = _own_projection(line, new, doctor_id, now)
    if appointment_id is not None:  # a check-in: rare, so the safe savepoint path
        existing = _active_token(session, new)
        if existing is not None:
            return existing
        try:
            with session.begin_nested():
                taken = _take_and_insert(session, actor, new, now)
        except IntegrityError as exc:
            return _race_winner(session, new, exc)
    else:
        taken = _take_and_insert(session, actor, new, now)
    if isinstance(taken, IssuedToken):
        return taken
    number, token_id, assigned, allocated_line, announced = taken
    if appointment_id is not None:  # the check-in itself: same transaction as the token
        follow_visit(session, new.tenant_id, appointment_id, "checked_in", now)
    code = f"{new.place.department_code}-{number:03d}"
    payload = {"code": code, "kind": kind, "source": source, "queue_key": new.queue_key}
    if assigned != new.doctor_id:
        payload["allocated_by"] = new.place.allocation_strategy
    if not announced:
        append_event(
            session,
            tenant_id=new.tenant_id,
            branch_id=new.place.branch_id,
            department_id=department_id,
            doctor_id=assigned,
            token_id=token_id,
            type="TokenIssued",
            actor_id=actor.user_id,
            payload=payload,
            at=now,
        )
    if deferred:
        defer_refresh(session, new.tenant_id, new.place, now)
        if guess is None and allocated_line is not None:
            guess = _own_projection(allocated_line, new, assigned, now)
        mine = None if guess is None else replace(guess, token_id=token_id)
    else:
        refresh = refresh_etas(session, new.tenant_id, new.place, now)
        mine = refresh.projections.get(token_id)
    return IssuedToken(
        token_id,
        code,
        number,
        kind,
        "waiting",
        mine.doctor_id if mine else assigned,
        department_id,
        True,
        eta=mine.eta if mine else None,
        position=mine.position if mine else None,
        eta_low=mine.low if mine else None,
        eta_high=mine.high if mine else None,
    )


_Taken = tuple[int, int, int | None, Line | None, bool]  # …, event already appended


def _own_projection(
    line: Line, new: NewToken, doctor_id: int | None, now: dt.datetime
) -> Projection | None:
    """The new token's projected call (read only), as if it stood in ``line`` already."""
    place, rules = new.place, new.place.rules
    me = WaitingRow(
        Candidate(NEW_TOKEN, new.kind, now, new.target_at, place.department_id),
        doctor_id,
        place.department_id,
        "",
        new.patient_id,
        None,
        None,
        0,
        place.branch_id,
    )
    # the calibration stored by the department's last projection
    projections = project_line(line, now, rules, place.calibration, also=[me])
    return projections.get(NEW_TOKEN)


def _tail_guess(session: Session, new: NewToken, now: dt.datetime) -> Projection | None:
    """A walk-in's ETA from the department's stored line tails and the tokens issued since.

    None (project the line instead) for other kinds, and when no projection of today stored
    tails for the token's doctor.
    """
    stored = new.place.tails
    if new.kind != "walk_in" or stored is None or stored.day != new.day:
        return None
    ahead = issued_since(session, new, stored.newest)
    department_id = new.place.department_id
    return tail_estimate(stored, now, department_id, new.doctor_id, ahead, new.place.calibration)


def _take_and_insert(
    session: Session, actor: Actor, new: NewToken, now: dt.datetime
) -> _Taken | IssuedToken:
    """Take the next number, allocate a doctor if needed and insert the token.

    The insert skips on the one-active-token index instead of failing, so no savepoint is
    needed: if the patient already holds an active token in this queue, the number is given
    back (the counter row is still locked by this transaction, so nobody took a later one)
    and that token is returned.
    """
    one_statement = new.doctor_id is not None or new.place.allocation_strategy == "pool"
    if one_statement and new.appointment_id is None and _is_postgresql(session):
        return _issue_in_one(session, actor, new, now)
    number = take_number(session, new)
    assigned = new.doctor_id
    line: Line | None = None
    if assigned is None and new.place.allocation_strategy != "pool":
        held = _held_in_department(session, new)  # under the counter lock: no race
        if held is not None:
            give_back(session, new)
            return held
        weighted = new.place.allocation_strategy == "performance_weighted"
        since = None if weighted else now - RECENT  # weighted shares count the whole day
        line = load_line(session, new.tenant_id, new.place, new.day, new.place.rules, since=since)
        assigned = choose_doctor(session, new.tenant_id, new.place, new.day, now, line.roster)
        if assigned is not None:  # from now on it is that doctor's token, like a named one
            new = replace(new, queue_key=f"doctor:{assigned}")
    token_id = insert_token(session, actor, new, number, now, assigned)
    if token_id is not None:
        return number, token_id, assigned, line, False
    give_back(session, new)
    existing = _active_token(session, new)
    if existing is None:
        raise Conflict("The patient's token changed meanwhile; try again")
    return existing


def _is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _issue_in_one(
    session: Session, actor: Actor, new: NewToken, now: dt.datetime
) -> _Taken | IssuedToken:
    """Counter, insert and event as one statement (PostgreSQL, a named or pool token)."""
    payload = json.dumps({"kind": new.kind, "source": new.source, "queue_key": new.queue_key})
    got = issue_in_one(session, actor, new, now, payload)
    if got is None:  # the first token of the day: open the day's counter, then again
        open_day(session, new)
        got = issue_in_one(session, actor, new, now, payload)
        if got is None:
            raise Conflict("The day's token counter could not be opened; try again")
    number, token_id = got
    if token_id is not None:
        return number, token_id, new.doctor_id, None, True
    give_back(session, new)  # the patient already holds a token here; the lock is still ours
    existing = _active_token(session, new)
    if existing is None:
        raise Conflict("The patient's token changed meanwhile; try again")
    return existing


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
) -> NewToken:
    """Validate the request and resolve its queue; raise before anything is written."""
    if kind not in TOKEN_KINDS:
        raise ValidationFailed(f"Unknown token kind {kind!r}", field="kind")
    if source not in SOURCES:
        raise ValidationFailed(f"Unknown token source {source!r}", field="source")
    tenant_id = tenant_of(session, actor)
    place, people = issue_place(session, tenant_id, patient_id, department_id, doctor_id)
    check_token_allowed(
        session,
        tenant_id=tenant_id,
        tenant_status=place.tenant_status,
        settings=place.settings,
        kind=kind,
        day=place.service_date(now),
    )
    people.check(department_id, doctor_id)
    target_at = _appointment_time(session, actor, appointment_id, patient_id)
    key = f"doctor:{doctor_id}" if doctor_id is not None else f"dept:{department_id}"
    return NewToken(
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
    if appt.status in ("cancelled", "no_show", "completed"):
        label = appt.status.replace("_", "-")
        raise Conflict(f"That appointment is {label}; it cannot be checked in", status=appt.status)
    return appt.slot_start


def _held_in_department(session: Session, new: NewToken) -> IssuedToken | None:
    """The patient's active token in the department today, whoever's line it is in."""
    return _first_token(
        session,
        QueueToken.tenant_id == new.tenant_id,
        QueueToken.patient_id == new.patient_id,
        QueueToken.service_date == new.day,
        QueueToken.department_id == new.place.department_id,
        QueueToken.status.in_(ACTIVE_TOKEN_STATUSES),
    )


def _active_token(session: Session, new: NewToken) -> IssuedToken | None:
    """Return the patient's active token in this queue today, if any."""
    return _first_token(
        session,
        QueueToken.tenant_id == new.tenant_id,
        QueueToken.patient_id == new.patient_id,
        QueueToken.service_date == new.day,
        QueueToken.queue_key == new.queue_key,
        QueueToken.status.in_(ACTIVE_TOKEN_STATUSES),
    )


def _first_token(session: Session, *where: ColumnElement[bool]) -> IssuedToken | None:
    """The first token matching ``where``, as an existing (not created) token."""
    row = (
        session.connection()
        .execute(
            select(
                QueueToken.id,
                QueueToken.code,
                QueueToken.number,
                QueueToken.kind,
                QueueToken.status,
                QueueToken.doctor_id,
                QueueToken.department_id,
                QueueToken.eta_at,
            )
            .where(*where)
            .order_by(QueueToken.id)
        )
        .first()
    )
    if row is None:
        return None
    token_id, code, number, kind, status, doctor_id, department_id, eta = row
    return IssuedToken(
        token_id, code, number, kind, status, doctor_id, department_id, False, eta=eta
    )


def _race_winner(session: Session, new: NewToken, exc: IntegrityError) -> IssuedToken:
    """Return the token a concurrent issue for the same patient and queue committed first."""
    if ACTIVE_INDEX not in str(exc.orig) and "queue_tokens.queue_key" not in str(exc.orig):
        if "appointment_id" in str(exc.orig):
            raise Conflict("That appointment already has a token") from exc
        raise exc
    winner = _active_token(session, new)
    if winner is None:
        raise Conflict("The patient's token changed meanwhile; try again") from exc
    return winner
