"""Reading the audit log: filtered entries of the actor's chain and a check of its hash chain.

A clinic admin reads their clinic's chain; the platform admin reads the platform chain. Both
need ``audit.read``. Reading the log is itself not audited (it would grow with every look).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.audit import _HASHED, GENESIS, _chain, entry_hash
from core.auth.permissions import require
from core.context import Actor, load_owned, tenant_of
from core.errors import NotFound, ValidationFailed
from db.models import AuditEntry, Patient, User

MAX_ROWS = 1000


@dataclass(frozen=True)
class AuditLine:
    seq: int
    at: dt.datetime
    actor_id: int | None
    actor_label: str
    action: str
    entity: str
    entity_id: str | None
    detail: dict[str, Any]


@dataclass(frozen=True)
class AuditChoices:
    """Who appears in the log and which actions, for the viewer's filters."""

    actors: tuple[tuple[int, str], ...]
    actions: tuple[str, ...]


@dataclass(frozen=True)
class ChainCheck:
    """The result of recomputing every hash; when broken, the first bad entry and why."""

    entries: int
    ok: bool
    broken_seq: int | None = None
    reason: str = ""
    broken_entry: AuditLine | None = None
    last_good_seq: int | None = None


def _own_chain(session: Session, actor: Actor) -> str:
    require(actor, "audit.read")
    if actor.tenant_id is not None:
        tenant_of(session, actor)
    return _chain(actor.tenant_id)


def audit_choices(session: Session, actor: Actor) -> AuditChoices:
    chain = _own_chain(session, actor)
    a = AuditEntry
    actors = session.execute(
        select(a.actor_id, func.max(a.actor_label))
        .where(a.chain == chain, a.actor_id.is_not(None))
        .group_by(a.actor_id)
        .order_by(func.max(a.actor_label))
    ).all()
    actions = session.scalars(
        select(a.action).where(a.chain == chain).group_by(a.action).order_by(a.action)
    ).all()
    return AuditChoices(tuple((int(i or 0), str(n)) for i, n in actors), tuple(actions))


def audit_entries(
    session: Session,
    actor: Actor,
    *,
    user_id: int | None = None,
    patient_id: int | None = None,
    action: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    limit: int = 200,
) -> list[AuditLine]:
    """The newest entries of the actor's chain matching every given filter (``until`` exclusive).

    ``patient_id`` matches entries about that patient (entity ``patient``). A user or patient
    of another clinic is ``NotFound``.
    """
    if not 1 <= limit <= MAX_ROWS:
        raise ValidationFailed(f"Show between 1 and {MAX_ROWS} entries", field="limit")
    if since is not None and until is not None and until <= since:
        raise ValidationFailed("The end is before the start", field="until")
    chain = _own_chain(session, actor)
    if user_id is not None:
        user = session.get(User, user_id)
        if user is None or user.tenant_id != actor.tenant_id:
            raise NotFound("User not found")
    if patient_id is not None:
        if actor.tenant_id is None:
            raise NotFound("Patient not found")
        load_owned(session, actor, Patient, patient_id, "Patient")
    a = AuditEntry
    query = select(a).where(a.chain == chain)
    if user_id is not None:
        query = query.where(a.actor_id == user_id)
    if patient_id is not None:
        query = query.where(a.entity == "patient", a.entity_id == str(patient_id))
    if action:
        query = query.where(a.action == action)
    if since is not None:
        query = query.where(a.created_at >= since)
    if until is not None:
        query = query.where(a.created_at < until)
    rows = session.scalars(query.order_by(a.seq.desc()).limit(limit)).all()
    return [_line(e) for e in rows]


def check_chain(session: Session, actor: Actor) -> ChainCheck:
    """Recompute the chain's hashes in order; say where it first breaks and how.

    A changed row no longer matches its own hash; a deleted or inserted row breaks the link
    (``prev_hash``) or the numbering of the entry after it.
    """
    chain = _own_chain(session, actor)
    rows = session.scalars(
        select(AuditEntry).where(AuditEntry.chain == chain).order_by(AuditEntry.seq)
    )
    prev, count, last_good = GENESIS, 0, None
    for entry in rows:
        count += 1
        reason = ""
        if entry.seq != count:
            reason = f"entry {count} is missing (numbering jumps to {entry.seq})"
        elif entry.prev_hash != prev:
            reason = "its link to the entry before does not match (a row was removed or replaced)"
        elif entry_hash({k: getattr(entry, k) for k in _HASHED}) != entry.hash:
            reason = "its contents were changed after it was written"
        if reason:
            return ChainCheck(count, False, entry.seq, reason, _line(entry), last_good)
        prev, last_good = entry.hash, entry.seq
    return ChainCheck(count, True, last_good_seq=last_good)


def _line(e: AuditEntry) -> AuditLine:
    return AuditLine(
        e.seq, e.created_at, e.actor_id, e.actor_label, e.action, e.entity, e.entity_id,
        dict(e.detail or {}),
    )  # fmt: skip
