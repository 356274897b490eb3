"""Roles and what each may do; checked in core, not only hidden in the UI."""

from __future__ import annotations

from core.context import Actor
from core.errors import PermissionDenied

ROLES = ("platform_admin", "clinic_admin", "receptionist", "doctor", "lab_technician", "patient")

_FRONT_DESK = {
    "patient.read",
    "patient.write",
    "patient.search",
    "appointment.read",
    "appointment.book",
    "appointment.cancel",
    "appointment.overbook",
    "queue.read",
    "queue.issue",
    "queue.call",
    "queue.manage",
    "queue.transfer",
    "billing.read",
    "billing.write",
    "billing.collect",
    "schedule.read",
}
_CLINICAL = {
    "clinical.read",
    "clinical.write",
    "diagnosis.write",
    "prescription.write",
    "lab.order",
    "lab.read",
}
PERMISSIONS: dict[str, frozenset[str]] = {
    "platform_admin": frozenset({"platform.manage", "tenant.manage", "audit.read"}),
    "clinic_admin": frozenset(
        _FRONT_DESK
        | {
            "schedule.write",
            "doctor.write",
            "user.write",
            "settings.write",
            "audit.read",
            "report.read",
            "billing.void",
            "patient.erase",
        }
    ),
    "receptionist": frozenset(_FRONT_DESK),
    "doctor": frozenset(
        _CLINICAL
        | {
            "patient.read",
            "patient.search",
            "patient.write",
            "appointment.read",
            "queue.read",
            "queue.call",
            "queue.transfer",  # to a colleague, from the doctor page
            "schedule.read",
            "report.read",
        }
    ),
    "lab_technician": frozenset(
        {"patient.read", "patient.search", "lab.read", "lab.result", "queue.read"}
    ),
    "patient": frozenset(),
    # Not a staff role (absent from ROLES): a partner's API key, and a patient's own records link.
    "partner_api": frozenset(
        {
            "schedule.read",
            "appointment.read",
            "appointment.book",
            "appointment.cancel",
            "patient.write",
        }
    ),
    "self_service": frozenset(
        {"schedule.read", "appointment.book", "appointment.cancel", "billing.read"}
    ),
}


def can(actor: Actor, permission: str) -> bool:
    if actor.role == "system":
        return True
    return permission in PERMISSIONS.get(actor.role, frozenset())


def require(actor: Actor, permission: str) -> None:
    """Raise ``PermissionDenied`` unless the actor's role grants ``permission``."""
    if not can(actor, permission):
        raise PermissionDenied(f"Your role ({actor.role}) may not do this ({permission})")
