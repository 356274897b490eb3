"""Typed domain errors with a stable code and a human message."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class DomainError(Exception):
    """Base of every rule violation core reports; boundaries translate ``code``."""

    code = "domain_error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class ValidationFailed(DomainError):
    """Input does not satisfy the rules; nothing was written."""

    code = "invalid_input"

    def __init__(self, message: str, *, field: str | None = None, **details: Any) -> None:
        super().__init__(message, field=field, **details)
        self.field = field


class NotFound(DomainError):
    """The row does not exist or belongs to another clinic (indistinguishable on purpose)."""

    code = "not_found"


class PermissionDenied(DomainError):
    """The acting user's role may not do this."""

    code = "permission_denied"


class AuthenticationFailed(DomainError):
    """Wrong username or password, a locked account, or an expired session."""

    code = "authentication_failed"


class Conflict(DomainError):
    """The change collides with the current state (e.g. a stale status)."""

    code = "conflict"


class DoctorNotAvailable(DomainError):
    """The doctor does not work at that time (leave, break, outside the schedule)."""

    code = "doctor_not_available"

    def __init__(self, message: str = "Doctor not available", **details: Any) -> None:
        super().__init__(message, **details)


class SlotTaken(DomainError):
    """Someone else booked the slot first; ``alternatives`` holds the next free slots."""

    code = "slot_taken"

    def __init__(
        self, message: str = "Slot just taken", *, alternatives: Sequence[Any] = ()
    ) -> None:
        super().__init__(message, alternatives=list(alternatives))
        self.alternatives = list(alternatives)


class ScheduleOverlap(ValidationFailed):
    """A new schedule window overlaps an existing one for the same doctor and weekday."""

    code = "schedule_overlap"


class PlanLimitReached(DomainError):
    """The clinic's plan allows no more of this today (e.g. its daily token cap)."""

    code = "plan_limit_reached"


class ClinicSuspended(DomainError):
    """The clinic's subscription is suspended: no new tokens or bookings until it is resumed."""

    code = "clinic_suspended"

    def __init__(
        self,
        message: str = (
            "This clinic's QLink subscription is suspended: new tokens and bookings are paused. "
            "Emergencies can still be issued. Please contact the clinic's administrator."
        ),
        **details: Any,
    ) -> None:
        super().__init__(message, **details)
