"""Password hashing with argon2id."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from core.errors import ValidationFailed

_HASHER = PasswordHasher()
MIN_LENGTH = 8


def use_cheap_parameters_for_tests() -> None:
    """Lower argon2's cost so test personas are cheap; never call this in a running clinic."""
    global _HASHER
    _HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def hash_password(password: str) -> str:
    """Hash a new password after checking it is long enough."""
    if len(password) < MIN_LENGTH:
        raise ValidationFailed(
            f"Password must be at least {MIN_LENGTH} characters", field="password"
        )
    return _HASHER.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _HASHER.check_needs_rehash(stored_hash)
