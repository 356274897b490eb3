"""Staff users: create, sign in with lockout, sessions with idle timeout."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit
from core.auth.passwords import hash_password, needs_rehash, verify_password
from core.auth.permissions import ROLES, require
from core.context import Actor
from core.errors import AuthenticationFailed, Conflict, ValidationFailed
from core.scheduling.doctors import access_doctor
from core.tenancy import access_branch
from db.models import Tenant, User, UserSession

MAX_FAILED_LOGINS = 5
LOCKOUT = dt.timedelta(minutes=15)
IDLE_TIMEOUT = dt.timedelta(minutes=30)
_DUMMY_HASH = hash_password("not-a-real-password")


def create_user(
    session: Session,
    actor: Actor,
    *,
    username: str,
    password: str,
    full_name: str,
    role: str,
    doctor_id: int | None = None,
    branch_id: int | None = None,
) -> User:
    """Create a staff login in the actor's clinic."""
    require(actor, "user.write")
    if role not in ROLES or role == "patient":
        raise ValidationFailed(f"Unknown staff role {role!r}", field="role")
    if role == "platform_admin" and actor.role not in ("system", "platform_admin"):
        raise ValidationFailed("Only the platform may create platform admins", field="role")
    username = username.strip().lower()
    if not username or not username.replace(".", "").replace("_", "").replace("-", "").isalnum():
        raise ValidationFailed(
            "Username may use letters, digits, '.', '-' and '_'", field="username"
        )
    tenant_id = None if role == "platform_admin" else actor.require_tenant()
    _check_links(session, actor, doctor_id=doctor_id, branch_id=branch_id)
    taken = session.scalar(
        select(User.id).where(User.tenant_id == tenant_id, User.username == username)
    )
    if taken:
        raise Conflict(f"Username {username!r} is already in use")
    user = User(
        tenant_id=tenant_id,
        username=username,
        full_name=full_name.strip(),
        role=role,
        password_hash=hash_password(password),
        doctor_id=doctor_id,
        branch_id=branch_id,
    )
    session.add(user)
    session.flush()
    audit.record(
        session, actor, "user.create", entity="user", entity_id=user.id, detail={"role": role}
    )
    return user


def _check_links(
    session: Session, actor: Actor, *, doctor_id: int | None, branch_id: int | None
) -> None:
    """Check the user's doctor and branch are the actor's clinic's (``NotFound`` otherwise)."""
    if doctor_id is not None:
        access_doctor(session, actor, doctor_id)
    if branch_id is not None:
        access_branch(session, actor, branch_id)


@dataclass(frozen=True)
class LoginAttempt:
    """Outcome of a sign-in; on failure the caller still commits (the failure is counted)."""

    actor: Actor | None = None
    secret: str | None = None
    error: AuthenticationFailed | None = None

    def unwrap(self) -> tuple[Actor, str]:
        """Return actor and secret, or raise the failure."""
        if self.error is not None or self.actor is None or self.secret is None:
            raise self.error or AuthenticationFailed("Sign-in failed")
        return self.actor, self.secret


def authenticate(
    session: Session,
    *,
    username: str,
    password: str,
    clinic: str | None = None,
    now: dt.datetime,
) -> LoginAttempt:
    """Check credentials and open a session for the user.

    Runs in the platform scope (the tenant is not known yet). Locks the account for
    ``LOCKOUT`` after ``MAX_FAILED_LOGINS`` consecutive failures. Failures are returned, not
    raised, so the caller commits the failure count before reporting it.
    """
    try:
        user = _find_user(session, username.strip().lower(), clinic)
    except AuthenticationFailed as exc:
        return LoginAttempt(error=exc)
    if user is None:
        verify_password(_DUMMY_HASH, password)  # same cost whether or not the user exists
        return LoginAttempt(error=AuthenticationFailed("Wrong username or password"))
    if user.locked_until and user.locked_until > now:
        return LoginAttempt(
            error=AuthenticationFailed("Account locked after repeated failures; try again later")
        )
    if not user.active or not verify_password(user.password_hash, password):
        _note_failure(session, user, now)
        return LoginAttempt(error=AuthenticationFailed("Wrong username or password"))
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.failed_logins, user.locked_until, user.last_login_at = 0, None, now
    secret = secrets.token_urlsafe(32)
    session.add(
        UserSession(
            tenant_id=user.tenant_id,
            user_id=user.id,
            token_hash=_digest(secret),
            last_seen_at=now,
            expires_at=now + IDLE_TIMEOUT,
        )
    )
    actor = actor_for(user)
    audit.record(session, actor, "auth.login", entity="user", entity_id=user.id)
    return LoginAttempt(actor=actor, secret=secret)


def resume_session(session: Session, secret: str, *, now: dt.datetime) -> Actor:
    """Return the actor of a live session and extend it; expired or revoked ones fail."""
    row = session.scalar(select(UserSession).where(UserSession.token_hash == _digest(secret)))
    if row is None or row.revoked_at or row.expires_at <= now:
        raise AuthenticationFailed("Your session has expired; please sign in again")
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        raise AuthenticationFailed("Your session has expired; please sign in again")
    row.last_seen_at, row.expires_at = now, now + IDLE_TIMEOUT
    return actor_for(user)


def sign_out(session: Session, secret: str, *, now: dt.datetime) -> None:
    row = session.scalar(select(UserSession).where(UserSession.token_hash == _digest(secret)))
    if row is not None and row.revoked_at is None:
        row.revoked_at = now


def actor_for(user: User) -> Actor:
    return Actor(
        user.id,
        user.tenant_id,
        user.role,
        f"{user.role}:{user.username}",
        doctor_id=user.doctor_id,
        branch_id=user.branch_id,
    )


def _find_user(session: Session, username: str, clinic: str | None) -> User | None:
    query = select(User).where(User.username == username)
    if clinic:
        query = query.join(Tenant, Tenant.id == User.tenant_id).where(Tenant.slug == clinic)
    users = list(session.scalars(query.limit(2)))
    if len(users) > 1:
        raise AuthenticationFailed("That username exists in several clinics; choose your clinic")
    return users[0] if users else None


def _note_failure(session: Session, user: User, now: dt.datetime) -> None:
    user.failed_logins += 1
    if user.failed_logins >= MAX_FAILED_LOGINS:
        user.locked_until = now + LOCKOUT
    audit.record(
        session,
        actor_for(user),
        "auth.failed",
        entity="user",
        entity_id=user.id,
        detail={"failed_logins": user.failed_logins},
    )


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
