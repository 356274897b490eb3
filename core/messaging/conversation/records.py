"""After a visit: the patient's prescriptions and a rating of the visit (one per token)."""

from __future__ import annotations

from sqlalchemy import exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from core.messaging.conversation.menu import fmt_date, pick, typed
from core.messaging.conversation.turn import IDLE, Turn
from core.messaging.messages import Button, Buttons, Document, Row
from db.models import Consultation, Doctor, Prescription, QueueToken, Rating

RX_SHOWN = 5
SCORES = (5, 4, 3, 2, 1)
COMMENT = "rate.comment"
FEEDBACK_MAX = 1000


def send_prescriptions(turn: Turn) -> None:
    """Send the recent prescriptions: a dated list, and each one's PDF when it is stored."""
    assert turn.patient is not None
    newer = aliased(Prescription)
    rows = turn.session.execute(
        select(Prescription.document_id, Consultation.started_at, Doctor.full_name)
        .join(Consultation, Consultation.id == Prescription.consultation_id)
        .join(Doctor, Doctor.id == Prescription.doctor_id)
        .where(
            Prescription.tenant_id == turn.tenant_id,
            Consultation.tenant_id == turn.tenant_id,
            Doctor.tenant_id == turn.tenant_id,
            Prescription.patient_id == turn.patient.id,
            # a corrected prescription shows once, as its latest version
            ~exists().where(
                newer.tenant_id == Prescription.tenant_id, newer.supersedes_id == Prescription.id
            ),
        )
        .order_by(Consultation.started_at.desc())
        .limit(RX_SHOWN)
    ).all()
    turn.go(IDLE)
    if not rows:
        turn.say("conv.rx.none")
        return
    lines, documents = [turn.t("conv.rx.header")], []
    for document_id, started, doctor in rows:
        day = started.astimezone(turn.zone).date()
        lines.append(turn.t("conv.rx.item", date=fmt_date(turn, day), doctor=doctor))
        if document_id is not None:
            caption = turn.t("conv.rx.caption", date=fmt_date(turn, day), doctor=doctor)
            documents.append(Document(document_id, f"prescription-{day.isoformat()}.pdf", caption))
    turn.say_lines(lines)
    turn.replies.extend(documents)


def start_rating(turn: Turn) -> None:
    """Offer scores 5..1 for the patient's latest finished, not yet rated visit."""
    assert turn.patient is not None
    found = turn.session.execute(
        select(QueueToken.id, Doctor.full_name)
        .outerjoin(
            Doctor, (Doctor.id == QueueToken.doctor_id) & (Doctor.tenant_id == turn.tenant_id)
        )
        .where(
            QueueToken.tenant_id == turn.tenant_id,
            QueueToken.patient_id == turn.patient.id,
            QueueToken.status == "done",
            ~exists().where(Rating.tenant_id == turn.tenant_id, Rating.token_id == QueueToken.id),
        )
        .order_by(QueueToken.finished_at.desc())
        .limit(1)
    ).first()
    if found is None:
        turn.say("conv.rate.none")
        turn.go(IDLE)
        return
    token_id, doctor = found
    rows = [
        Row(f"rate:{token_id}:{score}", turn.t("conv.rate.score", score=score)) for score in SCORES
    ]
    body = turn.t("conv.rate.ask", doctor=doctor or turn.clinic)
    pick(turn, body=body, button_key="conv.rate.button", rows=rows)
    turn.go(IDLE)


def on_rating(turn: Turn) -> bool:
    """Store a tapped ``rate:<token_id>:<score>`` (once per token); ask for a comment."""
    assert turn.patient is not None
    parts = (turn.message.reply_id or "").split(":")
    if len(parts) != 3 or not (parts[1].isdigit() and parts[2].isdigit()):
        return False
    token_id, score = int(parts[1]), int(parts[2])
    token = turn.session.get(QueueToken, token_id)
    mine = token is not None and token.tenant_id == turn.tenant_id
    if not mine or token is None or token.patient_id != turn.patient.id or score not in SCORES:
        return False
    if token.status != "done":
        turn.say("conv.rate.none")
        turn.go(IDLE)
        return True
    rating = Rating(
        tenant_id=turn.tenant_id,
        patient_id=turn.patient.id,
        doctor_id=token.doctor_id,
        token_id=token.id,
        score=score,
        created_at=turn.now,
    )
    try:
        with turn.session.begin_nested():  # one rating per token: the unique index decides
            turn.session.add(rating)
    except IntegrityError:
        turn.say("conv.rate.already")
        turn.go(IDLE)
        return True
    turn.replies.append(
        Buttons(
            body=turn.t("conv.rate.ask_comment"),
            buttons=(Button("rate:skip", turn.t("conv.rate.skip")),),
        )
    )
    turn.go(COMMENT, rating_id=rating.id)
    return True


def on_comment(turn: Turn) -> bool:
    """Store the optional comment of the rating just given (or skip it)."""
    comment = typed(turn)[:FEEDBACK_MAX]
    if comment:
        turn.session.execute(
            update(Rating)
            .where(Rating.tenant_id == turn.tenant_id, Rating.id == turn.data["rating_id"])
            .values(feedback=comment)
            .execution_options(synchronize_session=False)
        )
    elif turn.message.reply_id != "rate:skip":
        return False
    turn.say("conv.rate.thanks")
    turn.go(IDLE)
    return True


STEPS = {COMMENT: on_comment}
