"""The visit's rating request: one list of scores, whether the patient asks or QLink asks.

``rating_list`` builds the interactive list (rows ``rate:<token_id>:<score>``, 5 to 1) that
both the conversation's "rate" menu item and the ``whatsapp.rating_request`` intent send, so a
tap is stored by one handler (``core.messaging.conversation.records.on_rating``). Outside the
24-hour window the intent goes out as the approved template ``qlink_rating_request`` (one
parameter, the doctor; quick-reply buttons 5..1): a tapped or typed digit is stored for the
visit last asked about (``requested_visit``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, and_, cast, exists, literal, select
from sqlalchemy.orm import Session

from core.messaging.catalogue import text
from core.messaging.messages import ListMessage, Row, Section, Template
from core.queue.events import RATING_REQUEST
from db.models import Doctor, OutboxMessage, Patient, QueueToken, Rating, Tenant

SCORES = (5, 4, 3, 2, 1)
ROW_TITLE = 24
TEMPLATE = "qlink_rating_request"
ANSWER_WITHIN = dt.timedelta(days=7)  # a bare digit rates a visit asked about this recently


def rating_list(lang: str, token_id: int, doctor: str) -> ListMessage:
    """The list asking to rate the visit of ``token_id`` with ``doctor``, in ``lang``."""
    rows = tuple(
        Row(f"rate:{token_id}:{score}", text(lang, "conv.rate.score", score=score)[:ROW_TITLE])
        for score in SCORES
    )
    button = text(lang, "conv.rate.button")
    return ListMessage(
        body=text(lang, "conv.rate.ask", doctor=doctor),
        button=button,
        sections=(Section(text(lang, "conv.rate.section")[:ROW_TITLE], rows),),
    )


@dataclass(frozen=True)
class RatingRequest:
    """What a rating request says and to whom: a finished, unrated visit."""

    patient: Patient
    branch_id: int
    token_id: int
    doctor: str

    def message(self, lang: str) -> ListMessage:
        return rating_list(lang, self.token_id, self.doctor)

    def fallback(self, lang: str) -> Template:
        return Template(TEMPLATE, lang, (self.doctor,))


class NoRatingRequest(Exception):
    """The visit is gone, not finished, already rated, or its patient erased."""


def rating_request_for(session: Session, tenant_id: int, payload: dict[str, Any]) -> RatingRequest:
    """Load the visit of a ``whatsapp.rating_request`` intent (platform scope, the relay's)."""
    row = session.execute(
        select(QueueToken, Patient, Doctor.full_name, Tenant.name)
        .join(Patient, and_(Patient.tenant_id == tenant_id, Patient.id == QueueToken.patient_id))
        .outerjoin(Doctor, and_(Doctor.tenant_id == tenant_id, Doctor.id == QueueToken.doctor_id))
        .join(Tenant, Tenant.id == QueueToken.tenant_id)
        .where(QueueToken.tenant_id == tenant_id, QueueToken.id == payload["token_id"])
    ).first()
    if row is None:
        raise NoRatingRequest("the visit no longer exists")
    token, patient, doctor, clinic = row
    if token.status != "done" or patient.erased_at is not None:
        raise NoRatingRequest("the visit is not finished")
    rated = session.execute(
        select(exists().where(Rating.tenant_id == tenant_id, Rating.token_id == token.id))
    ).scalar()
    if rated:
        raise NoRatingRequest("the visit is already rated")
    return RatingRequest(patient, token.branch_id, token.id, doctor or clinic)


def rating_dedupe_key(token_id: int) -> str:
    """The outbox dedupe key of a visit's rating request: one per visit."""
    return f"rating:{token_id}"


def requested_visit(
    session: Session, tenant_id: int, patient_id: int, now: dt.datetime
) -> int | None:
    """The patient's latest visit QLink asked to rate (sent lately) and not yet rated."""
    key = literal("rating:") + cast(QueueToken.id, String)
    return session.execute(
        select(QueueToken.id)
        .join(
            OutboxMessage,
            and_(OutboxMessage.tenant_id == tenant_id, OutboxMessage.dedupe_key == key),
        )
        .where(
            QueueToken.tenant_id == tenant_id,
            QueueToken.patient_id == patient_id,
            QueueToken.status == "done",
            OutboxMessage.kind == RATING_REQUEST,
            OutboxMessage.status == "sent",
            OutboxMessage.sent_at >= now - ANSWER_WITHIN,
            ~exists().where(Rating.tenant_id == tenant_id, Rating.token_id == QueueToken.id),
        )
        .order_by(OutboxMessage.sent_at.desc(), QueueToken.id.desc())
        .limit(1)
    ).scalar()
