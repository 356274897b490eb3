"""Token lifecycle after the call: start, finish, missed, recall and cancel.

Each change is a compare-and-set ``UPDATE … WHERE status = :seen AND version = :seen``; a
token in the wrong state raises ``Conflict`` naming it, and nothing is written.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, update
from sqlalchemy.orm import Session

from core.auth.permissions import require
from core.context import Actor, load_owned
from core.errors import Conflict
from core.queue.events import append_event
from db.models import QueueToken

FINAL = ("done", "cancelled", "expired")


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
        lambda now: {"called_at": None, "recall_count": QueueToken.recall_count + 1},
    )


def cancel_token(session: Session, actor: Actor, *, token_id: int) -> TokenState:
    """Withdraw a waiting or called token."""
    return _move(session, actor, token_id, CANCEL, lambda now: {})


def _move(
    session: Session,
    actor: Actor,
    token_id: int,
    move: Move,
    extra: Any,
) -> TokenState:
    """Apply ``move`` by compare-and-set and append its event; raise ``Conflict`` otherwise."""
    require(actor, move.permission)
    now: dt.datetime = actor.clock()
    token = access_token(session, actor, token_id)
    code, seen, version = token.code, token.status, token.version
    if seen not in move.sources:
        raise Conflict(_wrong_state(code, seen, move), status=seen)
    stmt = (
        update(QueueToken)
        .where(
            QueueToken.id == token.id,
            QueueToken.tenant_id == token.tenant_id,
            QueueToken.status == seen,
            QueueToken.version == version,
        )
        .values(status=move.target, version=QueueToken.version + 1, **extra(now))
        .execution_options(synchronize_session=False)
    )
    if cast(CursorResult[Any], session.execute(stmt)).rowcount != 1:
        raise Conflict(f"Token {code} changed meanwhile; reload and try again")
    session.expire(token)
    _record(session, actor, token, move, seen, now)
    recalls = token.recall_count
    return TokenState(token_id, code, move.target, recalls)


def _record(
    session: Session, actor: Actor, token: QueueToken, move: Move, seen: str, at: dt.datetime
) -> None:
    """Append the move's queue event."""
    append_event(
        session,
        tenant_id=token.tenant_id,
        branch_id=token.branch_id,
        department_id=token.department_id,
        doctor_id=token.doctor_id,
        token_id=token.id,
        type=move.event,
        actor_id=actor.user_id,
        payload={"code": token.code, "from": seen, "to": move.target},
        at=at,
    )


def _wrong_state(code: str, status: str, move: Move) -> str:
    """Explain why the token cannot make ``move`` now."""
    label = status.replace("_", " ")
    if status in FINAL or status == move.target:
        return f"Token {code} is already {label}"
    return f"Token {code} is {label}; it cannot be {move.verb} now"
