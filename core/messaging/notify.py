"""Render the token engine's intents into a message for the token's patient.

The engine writes ``whatsapp.now_serving``, ``whatsapp.near_turn``, ``whatsapp.eta_shift`` and
``whatsapp.delay`` rows to the outbox (``core.queue.events``); scheduling writes
``whatsapp.booking_confirmed`` (a desk booking or reschedule) and ``whatsapp.slot_offer`` (the
waiting list's offer, ``core.messaging.slot_offer``); the relay calls ``render`` after commit.
The recipient is the patient's phone (decrypted with the ``PhoneVault``) and/or BSUID; the
text comes from the catalogue in the patient's language; the fallback template (same
parameters) is what goes out when the 24-hour window is closed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.messaging.booking_notices import NOTICES, NoNotice, notice_for
from core.messaging.catalogue import LANGUAGES, text
from core.messaging.dates import when_label
from core.messaging.messages import DOCUMENT, Document, Message, Recipient, Template, Text
from core.messaging.rating import NoRatingRequest, rating_request_for
from core.messaging.reminders import REMINDERS, NoReminder, reminder_for
from core.messaging.slot_offer import NoSlotOffer, slot_offer_for
from core.patients.phones import PhoneVault
from core.queue.events import DELAY, ETA_SHIFT, NEAR_TURN, NOW_SERVING, RATING_REQUEST
from core.scheduling.booking import BOOKING_CONFIRMED
from core.scheduling.waitlist_offers import SLOT_OFFER
from db.models import Document as StoredDocument
from db.models import Patient, QueueToken, WhatsAppMessage, WhatsAppNumber

QUEUE_INTENTS = (NOW_SERVING, NEAR_TURN, ETA_SHIFT, DELAY)
# intents about one appointment: the reminder's parameters, template "qlink_<kind suffix>"
APPOINTMENT_INTENTS = (*REMINDERS, BOOKING_CONFIRMED)
INTENTS = (*QUEUE_INTENTS, *APPOINTMENT_INTENTS, DOCUMENT, RATING_REQUEST, SLOT_OFFER, *NOTICES)
TEMPLATE_PREFIX = "qlink_"  # now_serving -> template "qlink_now_serving", same parameters
# Outside the window a stored document goes out as this template: a document header and one
# body parameter, the caption (or the filename) -- "Your {{1}} from the clinic is attached."
DOCUMENT_TEMPLATE = TEMPLATE_PREFIX + "document"


@dataclass(frozen=True)
class Rendered:
    recipient: Recipient
    message: Message
    fallback: Template | None


class NotRenderable(Exception):
    """The intent cannot become a message (no patient contact, no clinic number)."""


def render(
    session: Session,
    tenant_id: int,
    kind: str,
    payload: dict[str, Any],
    vault: PhoneVault,
    *,
    now: dt.datetime | None = None,
) -> Rendered:
    """Build the message an intent stands for; raise ``NotRenderable`` when no one can get it.

    ``now`` (the relay's clock) lets a time-bound intent, a slot offer, lapse unsent.
    """
    if kind in APPOINTMENT_INTENTS:
        return _reminder(session, tenant_id, kind, payload, vault)
    if kind == RATING_REQUEST:
        return _rating_request(session, tenant_id, payload, vault)
    if kind in NOTICES:
        return _web_notice(session, tenant_id, kind, payload, vault)
    if kind == SLOT_OFFER:
        return _slot_offer(session, tenant_id, payload, vault, now)
    if kind == DOCUMENT:
        return _document(session, tenant_id, payload, vault)
    token = session.execute(
        select(QueueToken).where(
            QueueToken.tenant_id == tenant_id, QueueToken.id == payload["token_id"]
        )
    ).scalar()
    if token is None:
        raise NotRenderable("the token no longer exists")
    patient = session.execute(
        select(Patient).where(Patient.tenant_id == tenant_id, Patient.id == token.patient_id)
    ).scalar()
    if patient is None:
        raise NotRenderable("the patient no longer exists")
    recipient = _recipient(session, tenant_id, token.branch_id, patient, vault)
    lang = patient.preferred_language if patient.preferred_language in LANGUAGES else "en"
    key, params = _text_params(kind, payload, token, lang)
    body = text(lang, key, **params)
    template = Template(TEMPLATE_PREFIX + key.split(".", 1)[1], lang, tuple(params.values()))
    return Rendered(recipient, Text(body), template)


def _reminder(
    session: Session, tenant_id: int, kind: str, payload: dict[str, Any], vault: PhoneVault
) -> Rendered:
    try:
        reminder = reminder_for(session, tenant_id, kind, payload)
    except NoReminder as exc:
        raise NotRenderable(str(exc)) from exc
    patient = reminder.patient
    recipient = _recipient(session, tenant_id, reminder.branch_id, patient, vault)
    lang = patient.preferred_language if patient.preferred_language in LANGUAGES else "en"
    params = dict(reminder.params)
    if reminder.starts_at is not None and reminder.zone is not None:
        params["when"] = when_label(lang, reminder.starts_at, reminder.zone)
    body = text(lang, reminder.key, **params)
    name = TEMPLATE_PREFIX + reminder.key.split(".", 1)[1]
    return Rendered(recipient, Text(body), Template(name, lang, tuple(params.values())))


def _rating_request(
    session: Session, tenant_id: int, payload: dict[str, Any], vault: PhoneVault
) -> Rendered:
    try:
        request = rating_request_for(session, tenant_id, payload)
    except NoRatingRequest as exc:
        raise NotRenderable(str(exc)) from exc
    patient = request.patient
    recipient = _recipient(session, tenant_id, request.branch_id, patient, vault)
    lang = patient.preferred_language if patient.preferred_language in LANGUAGES else "en"
    return Rendered(recipient, request.message(lang), request.fallback(lang))


def _web_notice(
    session: Session, tenant_id: int, kind: str, payload: dict[str, Any], vault: PhoneVault
) -> Rendered:
    try:
        notice = notice_for(session, tenant_id, kind, payload, vault)
    except NoNotice as exc:
        raise NotRenderable(str(exc)) from exc
    return Rendered(notice.recipient, notice.message, notice.fallback)


def _slot_offer(
    session: Session,
    tenant_id: int,
    payload: dict[str, Any],
    vault: PhoneVault,
    now: dt.datetime | None,
) -> Rendered:
    try:
        offer = slot_offer_for(session, tenant_id, payload)
    except NoSlotOffer as exc:
        raise NotRenderable(str(exc)) from exc
    if now is not None and offer.expires_at <= now:
        raise NotRenderable("the offer expired before it could be sent")
    patient = offer.patient
    recipient = _recipient(session, tenant_id, offer.branch_id, patient, vault)
    lang = patient.preferred_language if patient.preferred_language in LANGUAGES else "en"
    return Rendered(recipient, offer.message(lang), offer.fallback(lang))


def _document(
    session: Session, tenant_id: int, payload: dict[str, Any], vault: PhoneVault
) -> Rendered:
    document = session.execute(
        select(StoredDocument).where(
            StoredDocument.tenant_id == tenant_id, StoredDocument.id == payload["document_id"]
        )
    ).scalar()
    if document is None or document.retracted:
        raise NotRenderable("the document no longer exists")
    patient = session.execute(
        select(Patient).where(
            Patient.tenant_id == tenant_id,
            Patient.id == document.patient_id,
            Patient.erased_at.is_(None),
        )
    ).scalar()
    if patient is None:
        raise NotRenderable("the patient no longer exists")
    # from the number the patient last wrote to, else the clinic's first number
    branch_id = session.execute(
        select(WhatsAppNumber.branch_id)
        .join(WhatsAppMessage, WhatsAppMessage.phone_number_id == WhatsAppNumber.phone_number_id)
        .where(
            WhatsAppMessage.tenant_id == tenant_id,
            WhatsAppMessage.patient_id == patient.id,
            WhatsAppMessage.direction == "in",
            WhatsAppNumber.tenant_id == tenant_id,
        )
        .order_by(WhatsAppMessage.created_at.desc())
        .limit(1)
    ).scalar()
    recipient = _recipient(session, tenant_id, branch_id, patient, vault)
    lang = patient.preferred_language if patient.preferred_language in LANGUAGES else "en"
    caption = payload.get("caption") or None
    message = Document(document.id, document.filename, caption)
    template = Template(
        DOCUMENT_TEMPLATE,
        lang,
        ((caption or document.filename)[:200],),
        document_id=document.id,
        filename=document.filename,
    )
    return Rendered(recipient, message, template)


def _text_params(
    kind: str, payload: dict[str, Any], token: QueueToken, lang: str
) -> tuple[str, dict[str, str]]:
    code = str(payload.get("code") or token.code)
    if kind == NOW_SERVING:
        room = payload.get("room") or token.room
        if not room:
            return "notify.now_serving_no_room", {"code": code}
        return "notify.now_serving", {"code": code, "room": text(lang, "notify.room", room=room)}
    if kind == NEAR_TURN:
        # The engine's position is 1 for the next patient: the people ahead are one fewer.
        ahead = max(int(payload.get("position") or 1) - 1, 0)
        eta = payload["eta_local"]
        span = _span(payload)
        if ahead == 0:
            if span:
                return "notify.near_turn_next_range", {"code": code, **span}
            return "notify.near_turn_next", {"code": code, "eta": eta}
        if span:
            return "notify.near_turn_range", {"code": code, "ahead": str(ahead), **span}
        return "notify.near_turn", {"code": code, "ahead": str(ahead), "eta": eta}
    if kind == ETA_SHIFT:
        span = _span(payload)
        if span:
            return "notify.eta_shift_range", {"code": code, **span}
        return "notify.eta_shift", {"code": code, "eta": payload["eta_local"]}
    if kind == DELAY:
        return "notify.delay", {"minutes": str(payload["minutes"]), "eta": payload["eta_local"]}
    raise NotRenderable(f"unknown intent {kind!r}")


def _span(payload: dict[str, Any]) -> dict[str, str] | None:
    """The 80 % range ("between 11:40 and 12:05") when the intent carries a real one."""
    low, high = payload.get("eta_low_local"), payload.get("eta_high_local")
    if not low or not high or low == high:
        return None
    return {"low": str(low), "high": str(high)}


def _recipient(
    session: Session, tenant_id: int, branch_id: int | None, patient: Patient, vault: PhoneVault
) -> Recipient:
    numbers = session.execute(
        select(WhatsAppNumber.phone_number_id, WhatsAppNumber.branch_id).where(
            WhatsAppNumber.tenant_id == tenant_id
        )
    ).all()
    if not numbers:
        raise NotRenderable("the clinic has no WhatsApp number")
    own = [n for n, b in numbers if b == branch_id]
    phone_number_id = own[0] if own else sorted(numbers, key=lambda r: r[0])[0][0]
    wa_id = vault.decrypt(patient.phone_cipher).lstrip("+") if patient.phone_cipher else None
    if not wa_id and not patient.wa_bsuid:
        raise NotRenderable("the patient has no WhatsApp contact")
    return Recipient(
        contact_key=wa_id or str(patient.wa_bsuid),
        phone_number_id=phone_number_id,
        patient_id=patient.id,
        wa_id=wa_id,
        user_id=patient.wa_bsuid,
    )
