from __future__ import annotations

import datetime as dt

import pytest

from core.auth.permissions import can, require
from core.auth.users import MAX_FAILED_LOGINS, authenticate, create_user, resume_session
from core.errors import AuthenticationFailed, PermissionDenied, ValidationFailed

NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)


def login(session, clinic, password, *, username=None, now=NOW):
    name = username or f"receptionist.{clinic.tenant.slug}"
    return authenticate(session, username=name, password=password, now=now)


def test_correct_password_signs_in_with_role(session, clinic_a):
    actor, secret = login(session, clinic_a, "correct-horse-1").unwrap()
    assert actor.role == "receptionist" and actor.tenant_id == clinic_a.tenant_id
    resumed = resume_session(session, secret, now=NOW + dt.timedelta(minutes=5))
    assert resumed.user_id == actor.user_id


def test_password_is_stored_as_argon2_hash(session, clinic_a):
    from db.models import User

    user = session.get(User, clinic_a.receptionist.user_id)
    assert user.password_hash.startswith("$argon2id$")
    assert "correct-horse-1" not in user.password_hash


def test_wrong_password_is_refused_and_counted(session, clinic_a):
    attempt = login(session, clinic_a, "wrong-password")
    with pytest.raises(AuthenticationFailed):
        attempt.unwrap()


def test_account_locks_after_repeated_failures(session, clinic_a):
    for _ in range(MAX_FAILED_LOGINS):
        login(session, clinic_a, "wrong-password")
    attempt = login(session, clinic_a, "correct-horse-1")
    assert attempt.error is not None and "locked" in attempt.error.message
    later = NOW + dt.timedelta(minutes=16)
    assert login(session, clinic_a, "correct-horse-1", now=later).actor is not None


def test_idle_session_expires(session, clinic_a):
    _, secret = login(session, clinic_a, "correct-horse-1").unwrap()
    with pytest.raises(AuthenticationFailed):
        resume_session(session, secret, now=NOW + dt.timedelta(hours=1))


def test_unknown_user_gets_the_same_message(session, clinic_a):
    attempt = login(session, clinic_a, "whatever-1", username="nobody")
    assert attempt.error is not None and attempt.error.message == "Wrong username or password"


def test_short_password_is_rejected(session, clinic_a):
    with pytest.raises(ValidationFailed):
        create_user(
            session,
            clinic_a.admin,
            username="newbie",
            password="short",
            full_name="New Bie",
            role="receptionist",
        )


def test_receptionist_cannot_create_users(session, clinic_a):
    with pytest.raises(PermissionDenied):
        create_user(
            session,
            clinic_a.receptionist,
            username="sneaky",
            password="long-enough-1",
            full_name="Sneaky",
            role="clinic_admin",
        )


@pytest.mark.parametrize(
    ("role", "permission", "allowed"),
    [
        ("receptionist", "clinical.read", False),
        ("receptionist", "appointment.book", True),
        ("doctor", "diagnosis.write", True),
        ("lab_technician", "diagnosis.write", False),
        ("lab_technician", "lab.result", True),
        ("doctor", "lab.result", False),
        ("clinic_admin", "audit.read", True),
    ],
)
def test_role_permissions(clinic_a, role, permission, allowed):
    from dataclasses import replace

    actor = replace(clinic_a.receptionist, role=role)
    assert can(actor, permission) is allowed
    if not allowed:
        with pytest.raises(PermissionDenied):
            require(actor, permission)
