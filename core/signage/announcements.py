"""Waiting-room announcements: the admin's edits, pushed to the branch's open screens at once.

Every change appends an ``AnnouncementsChanged`` queue event for the branch in the same
transaction. The screens' stream already reads queue events, so an open TV gets the branch's
new list with the next wake-up instead of at the nightly reload (``core.signage.deltas``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit
from core.auth.permissions import require
from core.context import Actor, load_owned, tenant_of
from core.errors import ValidationFailed
from core.queue.events import append_event
from core.signage.deltas import ANNOUNCEMENTS_CHANGED
from core.tenancy import access_branch
from db.models import Announcement

CHANGED = ANNOUNCEMENTS_CHANGED
MAX_BODY = 280
LANGUAGES = ("en", "hi", "ta", "te", "kn", "ml", "mr", "bn", "gu")


@dataclass(frozen=True)
class AnnouncementRow:
    """An announcement as the configuration page lists it."""

    id: int
    branch_id: int
    body: str
    language: str
    position: int
    active: bool
    starts_at: dt.datetime | None
    ends_at: dt.datetime | None


def access_announcement(session: Session, actor: Actor, announcement_id: int) -> Announcement:
    """Fetch an announcement of the actor's clinic, or raise ``NotFound``."""
    return load_owned(session, actor, Announcement, announcement_id, "Announcement")


def list_announcements(session: Session, actor: Actor, *, branch_id: int) -> list[AnnouncementRow]:
    """Return every announcement of a branch (shown or not), in screen order."""
    require(actor, "settings.write")
    branch = access_branch(session, actor, branch_id)
    rows = session.scalars(
        select(Announcement)
        .where(Announcement.tenant_id == branch.tenant_id, Announcement.branch_id == branch.id)
        .order_by(Announcement.position, Announcement.id)
    )
    return [_row(a) for a in rows]


def add_announcement(
    session: Session,
    actor: Actor,
    *,
    branch_id: int,
    body: str,
    language: str = "en",
    position: int = 0,
    starts_at: dt.datetime | None = None,
    ends_at: dt.datetime | None = None,
) -> AnnouncementRow:
    """Add a line to a branch's screens; open screens show it at once."""
    require(actor, "settings.write")
    tenant_id = tenant_of(session, actor)
    branch = access_branch(session, actor, branch_id)
    row = Announcement(tenant_id=tenant_id, branch_id=branch.id, active=True)
    _apply(row, body, language, position, starts_at, ends_at)
    session.add(row)
    session.flush()
    _changed(session, actor, row, "announcement.add")
    return _row(row)


def edit_announcement(
    session: Session,
    actor: Actor,
    *,
    announcement_id: int,
    body: str,
    language: str = "en",
    position: int = 0,
    active: bool = True,
    starts_at: dt.datetime | None = None,
    ends_at: dt.datetime | None = None,
) -> AnnouncementRow:
    """Change an announcement's text, order, window or whether it shows; screens follow."""
    require(actor, "settings.write")
    row = access_announcement(session, actor, announcement_id)
    _apply(row, body, language, position, starts_at, ends_at)
    row.active = active
    session.flush()
    _changed(session, actor, row, "announcement.edit")
    return _row(row)


def _apply(
    row: Announcement,
    body: str,
    language: str,
    position: int,
    starts_at: dt.datetime | None,
    ends_at: dt.datetime | None,
) -> None:
    text = (body or "").strip()
    if not text:
        raise ValidationFailed("Announcement text is required", field="body")
    if len(text) > MAX_BODY:
        raise ValidationFailed(f"Keep it under {MAX_BODY} characters", field="body")
    if language not in LANGUAGES:
        raise ValidationFailed(f"Unknown language {language!r}", field="language")
    if not 0 <= position <= 99:
        raise ValidationFailed("Position is 0-99", field="position")
    if starts_at and ends_at and ends_at <= starts_at:
        raise ValidationFailed("The announcement ends before it starts", field="ends_at")
    row.body, row.language, row.position = text, language, position
    row.starts_at, row.ends_at = starts_at, ends_at


def _changed(session: Session, actor: Actor, row: Announcement, action: str) -> None:
    """Tell the branch's screens (a queue event) and the audit log."""
    append_event(
        session,
        tenant_id=row.tenant_id,
        branch_id=row.branch_id,
        department_id=None,
        doctor_id=None,
        token_id=None,
        type=CHANGED,
        actor_id=actor.user_id,
        payload={"announcement_id": row.id},
        at=actor.clock(),
    )
    audit.record(session, actor, action, entity="announcement", entity_id=row.id)


def _row(a: Announcement) -> AnnouncementRow:
    return AnnouncementRow(
        a.id, a.branch_id, a.body, a.language, a.position, a.active, a.starts_at, a.ends_at
    )
