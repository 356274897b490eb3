"""Open a consultation for a called token, and load one for an actor (doctors only).

A consultation is the visit's clinical envelope: one per token (UNIQUE tenant_id, token_id),
``open`` while the doctor writes and ``final`` once the visit is finished; after that a change
is an amendment and needs a reason. Reception and the lab never read it: ``clinical.read`` is a
doctor's permission.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core import audit
from core.auth.permissions import require
from core.context import Actor, load_owned, tenant_of
from core.errors import Conflict, PermissionDenied, ValidationFailed
from core.queue.lifecycle import access_token, start_consultation
from db.models import Consultation, QueueToken

OPEN = "open"
FINAL = "final"
MAX_REASON = 300


def open_consultation(session: Session, actor: Actor, *, token_id: int) -> Consultation:
    """Start the called token's consultation (called → in consultation) and return its record.

    Idempotent: opening it again (a reload, or the patient back from the lab and called again)
    returns the same consultation. Raises ``Conflict`` for a token that is neither called nor in
    consultation, or that is another doctor's patient.
    """
    require(actor, "clinical.write")
    token = access_token(session, actor, token_id)
    doctor_id = _doctor_for(actor, token)
    if token.status == "called":
        start_consultation(session, actor, token_id=token.id)
    elif token.status != "in_consultation":
        raise Conflict(
            f"Token {token.code} is {token.status.replace('_', ' ')}: call the patient first",
            status=token.status,
        )
    existing = _of_token(session, token)
    if existing is not None:
        return existing
    try:
        with session.begin_nested():
            consultation = _create(session, actor, token, doctor_id)
    except IntegrityError:
        # A second tab opened the same visit first (UNIQUE tenant_id, token_id).
        found = _of_token(session, token)
        if found is None:
            raise
        return found
    audit.record(
        session, actor, "consultation.open", entity="consultation", entity_id=consultation.id
    )
    return consultation


def access_consultation(session: Session, actor: Actor, consultation_id: int) -> Consultation:
    """Fetch a consultation of the actor's clinic for a clinician, or raise ``NotFound``."""
    require(actor, "clinical.read")
    return load_owned(session, actor, Consultation, consultation_id, "Consultation")


def writable_consultation(
    session: Session, actor: Actor, consultation_id: int, permission: str, reason: str | None
) -> tuple[Consultation, str | None]:
    """Load a consultation to write to; after it is final a change needs a ``reason``."""
    require(actor, permission)
    consultation = access_consultation(session, actor, consultation_id)
    return consultation, check_reason(reason, required=consultation.status == FINAL)


def check_reason(reason: str | None, *, required: bool) -> str | None:
    """Return the cleaned reason of a correction; raise ``ValidationFailed`` if it is missing."""
    text = (reason or "").strip()
    if required and not text:
        raise ValidationFailed("This record is final: say why you are amending it", field="reason")
    if len(text) > MAX_REASON:
        raise ValidationFailed(f"A reason has at most {MAX_REASON} characters", field="reason")
    return text or None


def _doctor_for(actor: Actor, token: QueueToken) -> int:
    if actor.role != "system" and actor.doctor_id is None:
        raise PermissionDenied("Only a doctor's account can open a consultation")
    mine = actor.doctor_id
    if token.doctor_id is not None and mine is not None and token.doctor_id != mine:
        raise Conflict(f"Token {token.code} is another doctor's patient")
    doctor_id = token.doctor_id or mine
    if doctor_id is None:
        raise ValidationFailed("The token has no doctor yet", field="token_id")
    return doctor_id


def _of_token(session: Session, token: QueueToken) -> Consultation | None:
    return session.scalar(
        select(Consultation).where(
            Consultation.tenant_id == token.tenant_id, Consultation.token_id == token.id
        )
    )


def _create(session: Session, actor: Actor, token: QueueToken, doctor_id: int) -> Consultation:
    consultation = Consultation(
        tenant_id=tenant_of(session, actor),
        patient_id=token.patient_id,
        doctor_id=doctor_id,
        branch_id=token.branch_id,
        appointment_id=token.appointment_id,
        token_id=token.id,
        status=OPEN,
        started_at=actor.clock(),
        created_at=actor.clock(),
    )
    session.add(consultation)
    session.flush()
    return consultation
