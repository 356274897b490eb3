"""WhatsApp notices of web booking: a cancellation, and the desk's answer to a booking request.

``whatsapp.booking_cancelled`` (payload ``{appointment_id}``, written by
``core.scheduling.web_booking.cancel_web_booking``) and ``whatsapp.booking_request_proposed``
(payload ``{request_id}``, written by ``core.scheduling.web_requests.propose_booking_request``)
are rendered here for the relay (``core.messaging.notify.render``): a text inside the 24-hour
window, else the approved template ``qlink_booking_cancelled`` / ``qlink_booking_proposed`` with
the same parameters in order. A request's patient may not be registered yet: the phone is the
request's own (encrypted) one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from core.messaging.messages import Recipient, Template, Text
from core.patients.phones import PhoneVault
from core.scheduling.web_booking import BOOKING_CANCELLED
from core.scheduling.web_requests import REQUEST_PROPOSED
from db.models import Appointment, Branch, Doctor, Patient, Tenant, WhatsAppNumber
from db.models.scheduling import BookingRequest

NOTICES = (BOOKING_CANCELLED, REQUEST_PROPOSED)
TEXTS = {
    "en": {
        BOOKING_CANCELLED: "Hello {name}, your appointment with {doctor} on {when} at {branch} "
        "is cancelled. You can book again on the clinic's website.",
        REQUEST_PROPOSED: "Hello {name}, {branch} cannot offer the time you asked for. We can "
        "see you on {when}.{note} Reply here to accept, or book again on the clinic's website.",
    },
    "hi": {
        BOOKING_CANCELLED: "नमस्ते {name}, {branch} में {doctor} के साथ {when} की आपकी "
        "अपॉइंटमेंट रद्द कर दी गई है। आप क्लिनिक की वेबसाइट पर फिर से बुक कर सकते हैं।",
        REQUEST_PROPOSED: "नमस्ते {name}, {branch} आपके माँगे समय पर नहीं मिल सकता। हम आपको "
        "{when} पर देख सकते हैं।{note} स्वीकार करने के लिए यहाँ जवाब दें।",
    },
}
TEMPLATES = {
    BOOKING_CANCELLED: "qlink_booking_cancelled",
    REQUEST_PROPOSED: "qlink_booking_proposed",
}


class NoNotice(Exception):
    """Nothing to say (the row is gone, or no one can receive it)."""


@dataclass(frozen=True)
class Notice:
    recipient: Recipient
    message: Text
    fallback: Template


def notice_for(
    session: Session, tenant_id: int, kind: str, payload: dict[str, Any], vault: PhoneVault
) -> Notice:
    """Build a web-booking notice for the relay; ``NoNotice`` when it cannot be sent."""
    if kind == BOOKING_CANCELLED:
        return _cancelled(session, tenant_id, payload, vault)
    if kind == REQUEST_PROPOSED:
        return _proposed(session, tenant_id, payload, vault)
    raise NoNotice(f"unknown notice {kind!r}")


def _cancelled(
    session: Session, tenant_id: int, payload: dict[str, Any], vault: PhoneVault
) -> Notice:
    row = session.execute(
        select(Appointment, Patient, Doctor.full_name, Branch, Tenant.timezone)
        .join(Patient, and_(Patient.tenant_id == tenant_id, Patient.id == Appointment.patient_id))
        .join(Doctor, and_(Doctor.tenant_id == tenant_id, Doctor.id == Appointment.doctor_id))
        .join(Branch, and_(Branch.tenant_id == tenant_id, Branch.id == Appointment.branch_id))
        .join(Tenant, Tenant.id == Appointment.tenant_id)
        .where(Appointment.tenant_id == tenant_id, Appointment.id == payload["appointment_id"])
    ).first()
    if row is None or row[0].status != "cancelled" or row[1].erased_at is not None:
        raise NoNotice("the appointment is not cancelled")
    appointment, patient, doctor, branch, tenant_tz = row
    if patient.phone_cipher is None:
        raise NoNotice("the patient has no phone")
    when = appointment.slot_start.astimezone(ZoneInfo(branch.timezone or tenant_tz))
    params = {
        "name": patient.full_name,
        "doctor": doctor,
        "when": when.strftime("%d %b %Y, %H:%M"),
        "branch": branch.name,
    }
    lang = patient.preferred_language if patient.preferred_language in TEXTS else "en"
    phone = vault.decrypt(patient.phone_cipher)
    return _notice(
        session, tenant_id, branch.id, phone, patient.id, BOOKING_CANCELLED, lang, params
    )


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
    when = proposed.astimezone(ZoneInfo(branch.timezone or tenant_tz))
    params = {
        "name": request.patient_name,
        "when": when.strftime("%d %b %Y, %H:%M"),
        "branch": branch.name,
        "note": f" {request.staff_note}" if request.staff_note else "",
    }
    phone = vault.decrypt(request.phone_cipher)
    return _notice(
        session, tenant_id, branch.id, phone, request.patient_id, REQUEST_PROPOSED, "en", params
    )


def _notice(
    session: Session,
    tenant_id: int,
    branch_id: int,
    phone: str,
    patient_id: int | None,
    kind: str,
    lang: str,
    params: dict[str, str],
) -> Notice:
    numbers = session.execute(
        select(WhatsAppNumber.phone_number_id, WhatsAppNumber.branch_id)
        .where(WhatsAppNumber.tenant_id == tenant_id)
        .order_by(WhatsAppNumber.phone_number_id)
    ).all()
    if not numbers:
        raise NoNotice("the clinic has no WhatsApp number")
    own = [n for n, b in numbers if b == branch_id]
    digits = phone.lstrip("+")
    recipient = Recipient(
        contact_key=digits,
        phone_number_id=own[0] if own else numbers[0][0],
        patient_id=patient_id,
        wa_id=digits,
    )
    body = TEXTS[lang][kind].format(**params)
    template_params = tuple(v for k, v in params.items() if k != "note")
    return Notice(recipient, Text(body), Template(TEMPLATES[kind], lang, template_params))
