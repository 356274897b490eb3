"""After a visit: the patient's prescriptions and a rating of the visit (one per token).

The rating is asked for by the patient ("rate" in the menu) or by QLink after the visit (the
``whatsapp.rating_request`` intent, ``core.messaging.rating``): the same list either way, so
a tap lands in ``on_rating``; a typed digit (or a template quick-reply) in ``on_score``.
"""

from __future__ import annotations

from sqlalchemy import exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from core.messaging.conversation.menu import fmt_date, typed
from core.messaging.conversation.turn import IDLE, Turn
from core.messaging.messages import Button, Buttons, Document
from core.messaging.rating import SCORES, rating_list, requested_visit
from db.models import Consultation, Doctor, Prescription, QueueToken, Rating

RX_SHOWN = 5
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
    turn.replies.append(rating_list(turn.lang, token_id, doctor or turn.clinic))
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
    _store(turn, token, score)
    return True


def on_score(turn: Turn) -> bool:
    """Store a bare score (a typed digit, or a template's quick-reply tap) for the visit
    QLink last asked the patient to rate; False when nothing was asked or it is no score."""
    assert turn.patient is not None
    answer = typed(turn)
    if turn.message.kind == "template_button":
        answer = (turn.message.reply_id or turn.message.text or "").strip()
    if not (len(answer) == 1 and answer.isdigit() and int(answer) in SCORES):
        return False
    token_id = requested_visit(turn.session, turn.tenant_id, turn.patient.id, turn.now)
    token = turn.session.get(QueueToken, token_id) if token_id is not None else None
    if token is None:
        return False
    _store(turn, token, int(answer))
    return True


def _store(turn: Turn, token: QueueToken, score: int) -> None:
    """Store the visit's rating once (the unique index decides) and ask for a comment."""
    assert turn.patient is not None
    if token.status != "done":
        turn.say("conv.rate.none")
        turn.go(IDLE)
        return
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
        return
    turn.replies.append(
        Buttons(
            body=turn.t("conv.rate.ask_comment"),
            buttons=(Button("rate:skip", turn.t("conv.rate.skip")),),
        )
    )
    turn.go(COMMENT, rating_id=rating.id)


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
