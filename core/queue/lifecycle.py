"""Token lifecycle after the call: start, finish, missed/recall, cancel, lab round-trip, transfer.

Each change is a compare-and-set ``UPDATE … WHERE status = :seen AND version = :seen``; a
token in the wrong state raises ``Conflict`` naming it, and nothing is written. Every change
appends its queue event and recomputes the department's ETAs in the same transaction; the
token of a checked-in appointment moves the appointment to ``in_consultation`` and ``completed``
with it.

Lab round-trip: a patient sent for tests mid-consultation keeps the same token (``at_lab``);
on return it waits again as ``lab_return``, a capped priority kind, so they are seen soon
without starving others. Transfer moves a waiting, called or missed token to another doctor's
line, keeping its code and its place in time (the wait already served still counts).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.auth.permissions import require
from core.context import Actor, load_owned
from core.errors import Conflict, ValidationFailed
from core.queue.events import RATING_REQUEST, append_event, enqueue_intent
from core.queue.place import QueuePlace, queue_place
from core.queue.projection import defer_refresh
from core.scheduling.attendance import follow_visit
from db.models import Doctor, Patient, QueueToken

FINAL = ("done", "cancelled", "expired")
# A booked token's consultation moves its appointment along (core.scheduling.attendance).
VISIT_STEPS = {"in_consultation": "in_consultation", "done": "completed"}


@dataclass(frozen=True)
class Move:
    """One allowed transition: who may make it, from which states, to which, as which event."""

    permission: str
    sources: tuple[str, ...]
    target: str
    event: str
    verb: str


START = Move("queue.call", ("called",), "in_consultation", "TokenStarted", "started")
FINISH = Move("queue.call", ("in_consultation",), "done", "TokenFinished", "finished")
MISS = Move("queue.call", ("called",), "missed", "TokenMissed", "marked missed")
RECALL = Move("queue.call", ("missed",), "waiting", "TokenRecalled", "recalled")
CANCEL = Move("queue.manage", ("waiting", "called"), "cancelled", "TokenCancelled", "cancelled")
TO_LAB = Move("queue.call", ("in_consultation",), "at_lab", "TokenSentToLab", "sent to the lab")
FROM_LAB = Move("queue.manage", ("at_lab",), "waiting", "TokenReturnedFromLab", "returned")
TRANSFER = Move(
    "queue.transfer", ("waiting", "called", "missed"), "waiting", "TokenTransferred", "transferred"
)


@dataclass(frozen=True)
class TokenState:
    """A token's state right after a lifecycle change."""

    id: int
    code: str
    status: str
    recall_count: int


def access_token(session: Session, actor: Actor, token_id: int) -> QueueToken:
    """Fetch a token of the actor's clinic, or raise ``NotFound``."""
    return load_owned(session, actor, QueueToken, token_id, "Token")


def start_consultation(session: Session, actor: Actor, *, token_id: int) -> TokenState:
    """The called patient walked in: called → in consultation."""
    return _move(session, actor, token_id, START, lambda now: {"started_at": now})


def finish_token(session: Session, actor: Actor, *, token_id: int) -> TokenState:
    """The consultation ended: in consultation → done."""
    return _move(session, actor, token_id, FINISH, lambda now: {"finished_at": now})


def mark_missed(session: Session, actor: Actor, *, token_id: int) -> TokenState:
    """The called patient did not come: called → missed (may be recalled)."""
    return _move(session, actor, token_id, MISS, lambda now: {})


def recall_token(session: Session, actor: Actor, *, token_id: int) -> TokenState:
    """A missed patient turned up: missed → waiting, callable again."""
    return _move(
        session,
        actor,
        token_id,
        RECALL,
        lambda now: {
            "called_at": None,
            "recall_count": QueueToken.recall_count + 1,
            "near_turn_sent": False,
        },
    )


def cancel_token(session: Session, actor: Actor, *, token_id: int) -> TokenState:
    """Withdraw a waiting or called token."""
    return _move(session, actor, token_id, CANCEL, lambda now: {})


def send_to_lab(session: Session, actor: Actor, *, token_id: int) -> TokenState:
    """The doctor ordered tests mid-consultation: in consultation → at lab (token kept)."""
    return _move(session, actor, token_id, TO_LAB, lambda now: {})


def return_from_lab(session: Session, actor: Actor, *, token_id: int) -> TokenState:
    """The patient is back with results: at lab → waiting, as a priority ``lab_return``."""
    return _move(
        session,
        actor,
        token_id,
        FROM_LAB,
        lambda now: {
            "kind": "lab_return",
            "called_at": None,
            "started_at": None,
            "near_turn_sent": False,
        },
    )


def transfer_token(
    session: Session,
    actor: Actor,
    *,
    token_id: int,
    to_doctor_id: int,
    reason: str | None = None,
) -> TokenState:
    """Move a token to another doctor's line (same clinic and branch), keeping its code."""
    token = access_token(session, actor, token_id)
    target = load_owned(session, actor, Doctor, to_doctor_id, "Doctor")
    if not target.active:
        raise ValidationFailed("That doctor is no longer active", field="to_doctor_id")
    if target.id == token.doctor_id:
        raise ValidationFailed(
            f"Token {token.code} is already with that doctor", field="to_doctor_id"
        )
    place = queue_place(session, token.tenant_id, target.department_id)
    if place.branch_id != token.branch_id:
        raise ValidationFailed(
            "That doctor's department is at another branch", field="to_doctor_id"
        )
    note = {"from_doctor_id": token.doctor_id, "to_doctor_id": target.id, "reason": reason}
    return _move(
        session,
        actor,
        token_id,
        TRANSFER,
        lambda now: {
            "doctor_id": target.id,
            "queue_key": f"doctor:{target.id}",
            "called_at": None,
            "room": None,
            "near_turn_sent": False,
        },
        note=note,
        also_refresh=target.department_id,
    )


def _move(
    session: Session,
    actor: Actor,
    token_id: int,
    move: Move,
    extra: Any,
    *,
    note: dict[str, Any] | None = None,
    also_refresh: int | None = None,
) -> TokenState:
    """Apply ``move`` by compare-and-set and append its event; raise ``Conflict`` otherwise."""
    require(actor, move.permission)
    now: dt.datetime = actor.clock()
    token = access_token(session, actor, token_id)
    code, seen, version = token.code, token.status, token.version
    appointment_id, patient_id = token.appointment_id, token.patient_id
    if seen not in move.sources:
        raise Conflict(_wrong_state(code, seen, move), status=seen)
    place = queue_place(session, token.tenant_id, token.department_id)
    if move is not CANCEL and token.service_date < place.service_date(now):
        raise Conflict(
            f"Token {code} was for {token.service_date:%d %b %Y}; that day is over, "
            "issue a new token",
            status=seen,
        )
    values = extra(now)
    stmt = (
        update(QueueToken)
        .where(
            QueueToken.id == token.id,
            QueueToken.tenant_id == token.tenant_id,
            QueueToken.status == seen,
            QueueToken.version == version,
        )
        .values(status=move.target, version=QueueToken.version + 1, **values)
        .execution_options(synchronize_session=False)
    )
    changed = _execute(session, stmt, guarded=move is TRANSFER)
    if changed != 1:
        raise Conflict(f"Token {code} changed meanwhile; reload and try again")
    before = _Seen(
        token.tenant_id,
        token.branch_id,
        token.department_id,
        token.doctor_id,
        token.recall_count,
    )
    session.expire(token)
    doctor_after = values.get("doctor_id", before.doctor_id)
    _record(session, actor, token_id, code, before, doctor_after, move, seen, now, note)
    if appointment_id is not None and move.target in VISIT_STEPS:
        follow_visit(session, before.tenant_id, appointment_id, VISIT_STEPS[move.target], now)
    if move is FINISH:
        _ask_for_rating(session, before.tenant_id, token_id, patient_id, place, now)
    defer_refresh(session, before.tenant_id, place, now, include=before.doctor_id)
    if also_refresh is not None and also_refresh != place.department_id:
        other = queue_place(session, before.tenant_id, also_refresh)
        defer_refresh(session, before.tenant_id, other, now, include=doctor_after)
    recalls = before.recall_count + (1 if move is RECALL else 0)
    return TokenState(token_id, code, move.target, recalls)


@dataclass(frozen=True)
class _Seen:
    """The token's identity as read before the change."""

    tenant_id: int
    branch_id: int
    department_id: int
    doctor_id: int | None
    recall_count: int


def _execute(session: Session, stmt: Any, *, guarded: bool) -> int:
    """Run the compare-and-set; a transfer runs in a savepoint as it may hit the active index."""
    if not guarded:
        return cast(CursorResult[Any], session.execute(stmt)).rowcount
    try:
        with session.begin_nested():
            return cast(CursorResult[Any], session.execute(stmt)).rowcount
    except IntegrityError as exc:  # the patient already has a token with that doctor
        raise Conflict("The patient already holds a token in that doctor's queue") from exc


def _record(
    session: Session,
    actor: Actor,
    token_id: int,
    code: str,
    before: _Seen,
    doctor_id: int | None,
    move: Move,
    seen: str,
    at: dt.datetime,
    note: dict[str, Any] | None,
) -> None:
    """Append the move's queue event (a transfer names the doctor it went to)."""
    append_event(
        session,
        tenant_id=before.tenant_id,
        branch_id=before.branch_id,
        department_id=before.department_id,
        doctor_id=doctor_id,
        token_id=token_id,
        type=move.event,
        actor_id=actor.user_id,
        payload={"code": code, "from": seen, "to": move.target, **(note or {})},
        at=at,
    )


def _ask_for_rating(
    session: Session,
    tenant_id: int,
    token_id: int,
    patient_id: int,
    place: QueuePlace,
    now: dt.datetime,
) -> None:
    """Write the visit's ``whatsapp.rating_request`` intent, due some minutes after it ended.

    Once per visit (the outbox dedupe key ``rating:<token_id>``); only for a patient reachable
    on WhatsApp. The conversation stores the answer (``core.messaging.conversation.records``).
    """
    reachable = session.execute(
        select(Patient.id).where(
            Patient.tenant_id == tenant_id,
            Patient.id == patient_id,
            Patient.erased_at.is_(None),
            or_(Patient.phone_cipher.is_not(None), Patient.wa_bsuid.is_not(None)),
        )
    ).first()
    if reachable is None:
        return
    minutes = place.rules.rating_request_minutes
    enqueue_intent(
        session,
        tenant_id=tenant_id,
        kind=RATING_REQUEST,
        payload={"token_id": token_id},
        dedupe_key=f"rating:{token_id}",  # core.messaging.rating.rating_dedupe_key
        at=now,
        due=now + dt.timedelta(minutes=minutes),
    )


def _wrong_state(code: str, status: str, move: Move) -> str:
    """Explain why the token cannot make ``move`` now."""
    label = status.replace("_", " ")
    if status in FINAL or status == move.target:
        return f"Token {code} is already {label}"
    return f"Token {code} is {label}; it cannot be {move.verb} now"
