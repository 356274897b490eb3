"""The clinic admin's user management: list, disable or enable, reset a password, unlock."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core import audit
from core.auth.passwords import hash_password
from core.auth.permissions import require
from core.context import Actor, load_owned, tenant_of
from core.errors import ValidationFailed
from db.models import User, UserSession

MIN_PASSWORD = 10


@dataclass(frozen=True)
class StaffRow:
    """A staff login as the users page lists it (never the password hash)."""

    id: int
    username: str
    full_name: str
    role: str
    active: bool
    locked: bool
    failed_logins: int
    last_login_at: dt.datetime | None
    doctor_id: int | None
    branch_id: int | None


def access_user(session: Session, actor: Actor, user_id: int) -> User:
    """Fetch a staff user of the actor's clinic, or raise ``NotFound``."""
    return load_owned(session, actor, User, user_id, "User")  # type: ignore[type-var]


def list_staff(session: Session, actor: Actor) -> list[StaffRow]:
    """Return the clinic's staff logins by role and username."""
    require(actor, "user.write")
    tenant_id = tenant_of(session, actor)
    now = actor.clock()
    users = session.scalars(
        select(User).where(User.tenant_id == tenant_id).order_by(User.role, User.username)
    )
    return [_row(u, now) for u in users]


def set_user_active(session: Session, actor: Actor, *, user_id: int, active: bool) -> StaffRow:
    """Disable a login (its open sessions end at once) or enable it again."""
    require(actor, "user.write")
    user = access_user(session, actor, user_id)
    if user.id == actor.user_id and not active:
        raise ValidationFailed("You cannot disable your own login", field="user_id")
    user.active = active
    if not active:
        _end_sessions(session, user, actor.clock())
    session.flush()
    action = "user.enable" if active else "user.disable"
    audit.record(session, actor, action, entity="user", entity_id=user.id)
    return _row(user, actor.clock())


def reset_password(session: Session, actor: Actor, *, user_id: int, new_password: str) -> StaffRow:
    """Set a new password chosen by the admin; open sessions end and the lockout is cleared."""
    require(actor, "user.write")
    user = access_user(session, actor, user_id)
    if len(new_password or "") < MIN_PASSWORD:
        raise ValidationFailed(
            f"Password needs at least {MIN_PASSWORD} characters", field="new_password"
        )
    user.password_hash = hash_password(new_password)
    user.failed_logins, user.locked_until = 0, None
    _end_sessions(session, user, actor.clock())
    session.flush()
    audit.record(session, actor, "user.password_reset", entity="user", entity_id=user.id)
    return _row(user, actor.clock())


def unlock_user(session: Session, actor: Actor, *, user_id: int) -> StaffRow:
    """Clear a lockout after repeated failed sign-ins."""
    require(actor, "user.write")
    user = access_user(session, actor, user_id)
    user.failed_logins, user.locked_until = 0, None
    session.flush()
    audit.record(session, actor, "user.unlock", entity="user", entity_id=user.id)
    return _row(user, actor.clock())


def _end_sessions(session: Session, user: User, now: dt.datetime) -> None:
    session.execute(
        update(UserSession)
        .where(
            UserSession.tenant_id == user.tenant_id,
            UserSession.user_id == user.id,
            UserSession.revoked_at.is_(None),
        )
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )


def _row(u: User, now: dt.datetime) -> StaffRow:
    return StaffRow(
        u.id,
        u.username,
        u.full_name,
        u.role,
        u.active,
        bool(u.locked_until and u.locked_until > now),
        u.failed_logins,
        u.last_login_at,
        u.doctor_id,
        u.branch_id,
    )
