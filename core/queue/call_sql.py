"""The prebuilt statements of call-next: the caller's doctor and place, their state, candidates.

All are built once with bind parameters and run as Core on the session's connection. The lean
path (``core.queue.calling``) reads only what one call needs: the doctor's department, zone
and rules; their day session and the kinds of their latest calls (the priority cap); and the
best few of their waiting tokens by score, never the department's whole line.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Date,
    Executable,
    Float,
    Integer,
    Table,
    and_,
    bindparam,
    case,
    extract,
    func,
    literal,
    literal_column,
    or_,
    select,
    true,
    union_all,
    update,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import Session

from core.errors import NotFound
from core.queue.place import QueuePlace, place_from_row, place_query
from core.queue.scoring import CAPPED_KINDS, DEFAULT_WEIGHTS, Candidate, QueueRules
from db.base import UTCDateTime
from db.models import Department, Doctor, DoctorSession, QueueToken

# Advisory lock namespace of call-next (objid: the doctor id); 7714 is the projections'.
CALL_LOCK_CLASS = 7715
BATCH = 8  # candidates read per round; the final order is decided in Python (scoring.rank)


@dataclass(frozen=True)
class Caller:
    """The doctor calling next, with the place of their department."""

    doctor_id: int
    department_id: int
    active: bool
    place: QueuePlace


def _build_doctor_place(lock: bool) -> Executable:
    """The doctor's department and place; with ``lock``, the doctor's call lock too.

    The lock is a column of the same statement (PostgreSQL evaluates it for the one row found,
    so another clinic's doctor is never locked). What this statement reads was committed before
    the lock was granted; only the doctor and their place, which a concurrent call never writes.
    """
    lead: list[Any] = [Doctor.active]
    if lock:
        objid = sql_cast(Doctor.id, Integer)  # the (int4, int4) form: objid must be int4
        lead.append(func.pg_advisory_xact_lock(literal_column(str(CALL_LOCK_CLASS)), objid))
    doctor_of_department = (Doctor.tenant_id == Department.tenant_id) & (
        Doctor.department_id == Department.id
    )
    return (
        place_query(Department.id, *lead)
        .join(Doctor, doctor_of_department)
        .where(Doctor.id == bindparam("doctor"), Doctor.tenant_id == bindparam("t"))
    )


_DOCTOR_PLACE = {True: _build_doctor_place(True), False: _build_doctor_place(False)}


def read_caller(session: Session, tenant_id: int, doctor_id: int, *, lock: bool) -> Caller:
    """Read the clinic's doctor with their place, or raise ``NotFound`` (also other clinics).

    With ``lock`` on PostgreSQL, take the doctor's call lock until the transaction ends, so
    calls for one doctor run one after another and each reads the previous one's claim.
    """
    connection = session.connection()
    lock = lock and connection.dialect.name == "postgresql"
    params = {"doctor": doctor_id, "t": tenant_id}
    row = connection.execute(_DOCTOR_PLACE[lock], params).first()
    if row is None:
        raise NotFound("Doctor not found")
    department_id, active = row[0], bool(row[1])
    place = place_from_row(department_id, tuple(row[3 if lock else 2 :]))
    return Caller(doctor_id, department_id, active, place)


@dataclass(frozen=True)
class CallerState:
    """What one call needs of the doctor's day: paused?, room, kinds of the latest calls."""

    session_status: str
    room: str | None
    recent_kinds: tuple[str, ...]


def _build_state() -> Executable:
    """The doctor's day session and latest calls: one row per recent call (at least one row)."""
    t = QueueToken
    day = bindparam("day", type_=Date)
    recent = (
        select(t.kind, t.called_at, t.id)
        .where(
            t.tenant_id == bindparam("t"),
            t.doctor_id == bindparam("doctor"),
            t.service_date == day,
            t.called_at.is_not(None),
        )
        .order_by(t.called_at.desc(), t.id.desc())
        .limit(bindparam("n", type_=Integer))
        .subquery()
    )
    day_session = and_(
        DoctorSession.tenant_id == Doctor.tenant_id,
        DoctorSession.doctor_id == Doctor.id,
        DoctorSession.branch_id == bindparam("branch"),
        DoctorSession.service_date == day,
    )
    return (
        select(
            DoctorSession.status,
            func.coalesce(DoctorSession.room, Doctor.default_room),
            recent.c.kind,
        )
        .select_from(Doctor)
        .outerjoin(DoctorSession, day_session)
        .outerjoin(recent, true())
        .where(Doctor.id == bindparam("doctor"), Doctor.tenant_id == bindparam("t"))
        .order_by(recent.c.called_at.desc(), recent.c.id.desc())
    )


_STATE = _build_state()


def caller_state(
    session: Session, tenant_id: int, caller: Caller, day: dt.date, rules: QueueRules
) -> CallerState:
    """The doctor's session status and room, and the kinds of their last ``cap_every - 1`` calls."""
    params = {
        "t": tenant_id,
        "doctor": caller.doctor_id,
        "branch": caller.place.branch_id,
        "day": day,
        "n": max(rules.cap_every - 1, 0),
    }
    rows = session.connection().execute(_STATE, params).all()
    if not rows:  # not the tenant's doctor (read_caller has checked, so a caller's mistake)
        raise NotFound("Doctor not found")
    status, room = rows[0][0], rows[0][1]
    kinds = tuple(kind for _status, _room, kind in rows if kind is not None)
    return CallerState(status or "active", room, kinds)


def _mine(doctor_id: Any, department_id: Any) -> ColumnElement[bool]:
    """The doctor's own token, or an unassigned token of the doctor's department."""
    return or_(
        doctor_id == bindparam("doctor"),
        doctor_id.is_(None) & (department_id == bindparam("dept")),
    )


def _waited_minutes(dialect: str, start: ColumnElement[Any]) -> ColumnElement[Any]:
    """Minutes from ``start`` to ``:now`` (SQLite stores UTC as naive ISO text: julianday)."""
    now = bindparam("now", type_=UTCDateTime)
    if dialect == "postgresql":
        return sql_cast(extract("epoch", now - start), Float) / 60.0
    return (func.julianday(now) - func.julianday(start)) * 1440.0


def _build_candidates(dialect: str, by_branch: bool) -> Executable:
    """The best ``:n`` waiting tokens of the doctor by ``scoring._key``, and the best uncapped one.

    Score = weight(kind) + wait penalty × minutes waited since max(check-in, slot), as
    ``scoring.score`` computes it at the same ``now``; emergencies first; ties by check-in, id.
    """
    t = QueueToken
    start = case((t.target_at > t.issued_at, t.target_at), else_=t.issued_at)
    weight = case(
        *((t.kind == kind, bindparam(f"w_{kind}", type_=Float)) for kind in DEFAULT_WEIGHTS),
        else_=0.0,
    )
    score = weight + bindparam("penalty", type_=Float) * _waited_minutes(dialect, start)
    where = [
        t.tenant_id == bindparam("t"),
        t.service_date == bindparam("day", type_=Date),
        t.status == "waiting",
        _mine(t.doctor_id, t.department_id),
    ]
    if by_branch:
        where.append(t.branch_id == bindparam("branch"))
    order = (case((t.kind == "emergency", 0), else_=1), score.desc(), t.issued_at, t.id)

    def best(tag: int, limit: Any, *extra: ColumnElement[bool]) -> Any:
        # ORDER BY and LIMIT inside a subquery: SQLite allows neither on a compound's member
        columns = (literal(tag, Integer).label("tag"), t.id, t.kind, t.issued_at, t.target_at)
        ranked = select(*columns, t.department_id).where(*where, *extra).order_by(*order)
        return select(ranked.limit(limit).subquery())

    top = best(0, bindparam("n", type_=Integer))
    uncapped = best(1, 1, t.kind.not_in(sorted(CAPPED_KINDS)))
    return union_all(top, uncapped)


_CANDIDATES = {
    (dialect, by_branch): _build_candidates(dialect, by_branch)
    for dialect in ("postgresql", "sqlite")
    for by_branch in (False, True)
}


@dataclass(frozen=True)
class Batch:
    """One round of candidates: the best ``BATCH`` by score and the best uncapped one.

    ``complete``: fewer than ``BATCH`` were read, so these are all the doctor's waiting tokens.
    """

    top: tuple[Candidate, ...]
    uncapped: Candidate | None
    complete: bool

    def candidates(self) -> list[Candidate]:
        """The batch's distinct candidates."""
        found = {c.id: c for c in self.top}
        if self.uncapped is not None:
            found.setdefault(self.uncapped.id, self.uncapped)
        return list(found.values())

    def decides(self, left: Sequence[Candidate]) -> bool:
        """Whether ``rank`` over the batch's ``left`` picks what it would pick over the line.

        The pick is the best token overall, or, when the cap holds, the best uncapped one. Both
        are in ``left`` while one of the top remains (it beats every token not read) and an
        uncapped one remains (the uncapped read are the line's best uncapped), or none waits.
        """
        if not left:
            return False
        if self.complete:
            return True
        ids = {c.id for c in left}
        some_top = any(c.id in ids for c in self.top)
        some_uncapped = self.uncapped is None or any(c.kind not in CAPPED_KINDS for c in left)
        return some_top and some_uncapped


def read_candidates(
    session: Session,
    tenant_id: int,
    caller: Caller,
    day: dt.date,
    now: dt.datetime,
    rules: QueueRules,
    branch_id: int | None,
) -> Batch:
    """The doctor's own and the department's unassigned waiting tokens, best first, a batch."""
    connection = session.connection()
    statement = _CANDIDATES[(connection.dialect.name, branch_id is not None)]
    params: dict[str, Any] = {
        "t": tenant_id,
        "day": day,
        "doctor": caller.doctor_id,
        "dept": caller.department_id,
        "branch": branch_id,
        "now": now,
        "penalty": rules.wait_penalty_per_minute,
        "n": BATCH,
    }
    params.update({f"w_{kind}": rules.weights.get(kind, 0.0) for kind in DEFAULT_WEIGHTS})
    top: list[Candidate] = []
    uncapped: Candidate | None = None
    for tag, token_id, kind, issued_at, target_at, department_id in connection.execute(
        statement, params
    ):
        candidate = Candidate(token_id, kind, issued_at, target_at, department_id)
        if tag == 0:
            top.append(candidate)
        else:
            uncapped = candidate
    return Batch(tuple(top), uncapped, complete=len(top) < BATCH)


def _build_claim(skip_locked: bool) -> Executable:
    """The claim UPDATE, built once per locking mode (see ``core.queue.calling``)."""
    table = cast(Table, QueueToken.__table__)
    t = table.c
    locked = (
        select(t.id)
        .where(t.tenant_id == bindparam("t"), t.id == bindparam("token"), t.status == "waiting")
        .with_for_update(skip_locked=skip_locked)
        .scalar_subquery()
    )
    mine = _mine(t.doctor_id, t.department_id)
    return (
        update(table)
        .where(t.id == locked, t.tenant_id == bindparam("t"), t.status == "waiting", mine)
        .values(
            status="called",
            called_at=bindparam("now", type_=t.called_at.type),
            # the first call only (a recall, a return from the lab call again): ETA calibration
            first_called_at=func.coalesce(
                t.first_called_at, bindparam("now", type_=t.called_at.type)
            ),
            doctor_id=bindparam("doctor"),
            room=bindparam("room", type_=t.room.type),
            version=t.version + 1,
        )
        .returning(
            t.id, t.code, t.kind, t.patient_id, t.doctor_id, t.department_id, t.room, t.recall_count
        )
    )


CLAIM = {True: _build_claim(True), False: _build_claim(False)}
STATUS = select(QueueToken.status).where(QueueToken.id == bindparam("token"))
