"""WhatsApp notices that an appointment changed, and the desk's answer to a booking request.

``whatsapp.booking_cancelled`` (payload ``{appointment_id}``) and ``whatsapp.booking_rescheduled``
(payload ``{appointment_id, from_id}``: the new row and the one it replaced), written by
``core.scheduling.booking`` whoever cancelled or moved the appointment, and
``whatsapp.booking_request_proposed`` (payload ``{request_id}``, written by
``core.scheduling.web_requests.propose_booking_request``) are rendered here for the relay
(``core.messaging.notify.render``): a text inside the 24-hour window, else the approved template
``qlink_booking_cancelled`` / ``qlink_booking_rescheduled`` / ``qlink_booking_proposed`` with the
same parameters in order. The text is in the patient's language (a request's: the booking
page's, ``booking_requests.language``); the template too when the clinic has it approved in
that language, else the English one with English parameters. A request's patient may not be
registered yet: the phone is the request's own (encrypted) one. The proposal carries two
buttons, ``proposal:accept:<id>`` and ``proposal:other:<id>``: reply buttons in the window, the
template's quick-reply payloads outside it; ``core.messaging.conversation.proposals`` answers
the tap.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from core.messaging.catalogue import text
from core.messaging.dates import when_label
from core.messaging.messages import Button, Buttons, Recipient, Template, Text
from core.messaging.outbound import approved_template
from core.patients.phones import PhoneVault
from core.scheduling.booking import BOOKING_CANCELLED, BOOKING_RESCHEDULED
from core.scheduling.web_requests import REQUEST_PROPOSED
from db.models import Appointment, Branch, Doctor, Patient, Tenant, WhatsAppNumber
from db.models.scheduling import BookingRequest

NOTICES = (BOOKING_CANCELLED, BOOKING_RESCHEDULED, REQUEST_PROPOSED)
TEXTS = {
    "en": {
        BOOKING_CANCELLED: "Hello {name}, your appointment with {doctor} on {when} at {branch} "
        "is cancelled. You can book again on the clinic's website.",
        BOOKING_RESCHEDULED: "Hello {name}, your appointment with {doctor} has moved to {when} "
        "at {branch} (it was {previous}).",
        REQUEST_PROPOSED: "Hello {name}, {branch} cannot offer the time you asked for. We can "
        "see you on {when}.{note} Tap Accept to book it, or choose another time.",
    },
    "hi": {
        BOOKING_CANCELLED: "नमस्ते {name}, {branch} में {doctor} के साथ {when} की आपकी "
        "अपॉइंटमेंट रद्द कर दी गई है। आप क्लिनिक की वेबसाइट पर फिर से बुक कर सकते हैं।",
        BOOKING_RESCHEDULED: "नमस्ते {name}, {doctor} के साथ आपकी अपॉइंटमेंट अब {when} पर "
        "{branch} में है (पहले {previous} थी)।",
        REQUEST_PROPOSED: "नमस्ते {name}, {branch} आपके माँगे समय पर नहीं मिल सकता। हम आपको "
        "{when} पर देख सकते हैं।{note} बुक करने के लिए स्वीकार करें दबाएँ, या दूसरा समय चुनें।",
    },
}
TEMPLATES = {
    BOOKING_CANCELLED: "qlink_booking_cancelled",
    BOOKING_RESCHEDULED: "qlink_booking_rescheduled",
    REQUEST_PROPOSED: "qlink_booking_proposed",
}


ACCEPT_PROPOSAL, OTHER_TIME = "proposal:accept", "proposal:other"  # button ids, + ":<id>"


class NoNotice(Exception):
    """Nothing to say (the row is gone, or no one can receive it)."""


@dataclass(frozen=True)
class Notice:
    recipient: Recipient
    message: Text | Buttons
    fallback: Template


def notice_for(
    session: Session, tenant_id: int, kind: str, payload: dict[str, Any], vault: PhoneVault
) -> Notice:
    """Build a booking notice for the relay; ``NoNotice`` when it cannot be sent."""
    if kind in (BOOKING_CANCELLED, BOOKING_RESCHEDULED):
        return _changed(session, tenant_id, kind, payload, vault)
    if kind == REQUEST_PROPOSED:
        return _proposed(session, tenant_id, payload, vault)
    raise NoNotice(f"unknown notice {kind!r}")


def _changed(
    session: Session, tenant_id: int, kind: str, payload: dict[str, Any], vault: PhoneVault
) -> Notice:
    row = session.execute(
        select(Appointment, Patient, Doctor.full_name, Branch, Tenant.timezone)
        .join(Patient, and_(Patient.tenant_id == tenant_id, Patient.id == Appointment.patient_id))
        .join(Doctor, and_(Doctor.tenant_id == tenant_id, Doctor.id == Appointment.doctor_id))
        .join(Branch, and_(Branch.tenant_id == tenant_id, Branch.id == Appointment.branch_id))
        .join(Tenant, Tenant.id == Appointment.tenant_id)
        .where(Appointment.tenant_id == tenant_id, Appointment.id == payload["appointment_id"])
    ).first()
    # a move that was moved again or cancelled since is told by the later notice
    wanted = "cancelled" if kind == BOOKING_CANCELLED else "scheduled"
    if row is None or row[0].status != wanted or row[1].erased_at is not None:
        raise NoNotice(f"the appointment is no longer {wanted}")
    appointment, patient, doctor, branch, tenant_tz = row
    zone = ZoneInfo(branch.timezone or tenant_tz)
    lang = patient.preferred_language if patient.preferred_language in TEXTS else "en"
    previous = (
        session.scalar(
            select(Appointment.slot_start).where(
                Appointment.tenant_id == tenant_id, Appointment.id == payload["from_id"]
            )
        )
        if kind == BOOKING_RESCHEDULED
        else None
    )

    def params(language: str) -> dict[str, str]:
        values = {
            "name": patient.full_name,
            "doctor": doctor,
            "when": when_label(language, appointment.slot_start, zone),
            "branch": branch.name,
        }
        if kind == BOOKING_RESCHEDULED:
            values["previous"] = (
                when_label(language, previous, zone) if previous is not None else "-"
            )
        return values

    phone = vault.decrypt(patient.phone_cipher) if patient.phone_cipher else None
    if phone is None and patient.wa_bsuid is None:
        raise NoNotice("the patient has no WhatsApp contact")
    contact = _Contact(phone, patient.id, patient.wa_bsuid)
    return _notice(session, tenant_id, branch.id, contact, kind, lang, params)


def _proposed(
    session: Session, tenant_id: int, payload: dict[str, Any], vault: PhoneVault
) -> Notice:
    row = session.execute(
        select(BookingRequest, Branch, Tenant.timezone)
        .join(Branch, and_(Branch.tenant_id == tenant_id, Branch.id == BookingRequest.branch_id))
        .join(Tenant, Tenant.id == BookingRequest.tenant_id)
        .where(BookingRequest.tenant_id == tenant_id, BookingRequest.id == payload["request_id"])
    ).first()
    if row is None or row[0].status != "proposed" or row[0].proposed_start is None:
        raise NoNotice("the request has no proposed time")
    request, branch, tenant_tz = row
    proposed = request.proposed_start
    if request.phone_cipher is None or proposed is None:
        raise NoNotice("the request has no phone")
    lang = request.language if request.language in TEXTS else "en"  # the booking page's
    zone = ZoneInfo(branch.timezone or tenant_tz)

    def params(language: str) -> dict[str, str]:
        return {
            "name": request.patient_name,
            "when": when_label(language, proposed, zone),
            "branch": branch.name,
            "note": f" {request.staff_note}" if request.staff_note else "",
        }

    phone = vault.decrypt(request.phone_cipher)
    contact = _Contact(phone, request.patient_id)
    notice = _notice(session, tenant_id, branch.id, contact, REQUEST_PROPOSED, lang, params)
    ids = (f"{ACCEPT_PROPOSAL}:{request.id}", f"{OTHER_TIME}:{request.id}")
    buttons = Buttons(
        body=notice.message.body,
        buttons=(
            Button(ids[0], text(lang, "conv.proposal.accept")),
            Button(ids[1], text(lang, "conv.proposal.other")),
        ),
    )
    return Notice(notice.recipient, buttons, replace(notice.fallback, quick_replies=ids))


@dataclass(frozen=True)
class _Contact:
    phone: str | None  # E.164
    patient_id: int | None
    bsuid: str | None = None  # a WhatsApp username's business-scoped user id


def _notice(
    session: Session,
    tenant_id: int,
    branch_id: int,
    contact: _Contact,
    kind: str,
    lang: str,
    params: Callable[[str], dict[str, str]],
) -> Notice:
    """The text in ``lang``; the fallback template in ``lang`` when the clinic has it approved
    in that language, else in English with English parameters (the relay would send the English
    template anyway, and its dates must not be Hindi)."""
    numbers = session.execute(
        select(WhatsAppNumber.phone_number_id, WhatsAppNumber.branch_id)
        .where(WhatsAppNumber.tenant_id == tenant_id)
        .order_by(WhatsAppNumber.phone_number_id)
    ).all()
    if not numbers:
        raise NoNotice("the clinic has no WhatsApp number")
    own = [n for n, b in numbers if b == branch_id]
    digits = contact.phone.lstrip("+") if contact.phone else None
    recipient = Recipient(
        contact_key=digits or str(contact.bsuid),
        phone_number_id=own[0] if own else numbers[0][0],
        patient_id=contact.patient_id,
        wa_id=digits,
        user_id=contact.bsuid,
    )
    body = TEXTS[lang][kind].format(**params(lang))
    approved = approved_template(session, tenant_id, TEMPLATES[kind], lang)
    template_lang = lang if approved is not None and approved.language == lang else "en"
    template_params = tuple(v for k, v in params(template_lang).items() if k != "note")
    return Notice(recipient, Text(body), Template(TEMPLATES[kind], template_lang, template_params))
