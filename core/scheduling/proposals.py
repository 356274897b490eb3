"""The patient's answer to a time the desk proposed for a web booking request.

``core.scheduling.web_requests.propose_booking_request`` moves a request to ``proposed`` and the
patient gets the time over WhatsApp with two buttons (``core.messaging.booking_notices``). The
conversation (``core.messaging.conversation.proposals``) answers a tap here: ``accept_proposal``
books the proposed time through ``book_appointment`` (the same seat index as the desk; a lost
race or a time that is no longer a free slot raises ``SlotTaken`` with the next free slots) and
moves the request to ``accepted``; ``decline_proposal`` moves it to ``declined``. Both are
compare-and-set on ``proposed`` and idempotent: a second tap of Accept returns the booking the
first one made. Only the phone the request was made from may answer it; any other sender, or a
request of another clinic, gets ``NotFound``.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, update
from sqlalchemy.orm import Session

from core import audit
from core.auth.permissions import require
from core.context import Actor
from core.errors import Conflict, DoctorNotAvailable, NotFound, SlotTaken, ValidationFailed
from core.patients.phones import PhoneVault, normalise_phone
from core.scheduling.booking import access_appointment, book_appointment
from core.scheduling.slots import free_slots_after
from core.scheduling.web_booking import find_or_register
from core.scheduling.web_requests import access_booking_request
from db.models import Appointment, Patient
from db.models.scheduling import BookingRequest

ACCEPTED, DECLINED = "accepted", "declined"


def proposal_patient(
    session: Session, actor: Actor, *, request_id: int, phone: str, vault: PhoneVault
) -> Patient:
    """The patient a proposal is for (registered now if new); ``NotFound`` for another sender."""
    request = _own_request(session, actor, request_id, phone, vault)
    assert request.phone_cipher is not None
    return find_or_register(
        session,
        actor,
        vault=vault,
        phone=vault.decrypt(request.phone_cipher),
        full_name=request.patient_name,
        age_years=request.age_years,
        language=request.language or "en",
    )


def accept_proposal(
    session: Session, actor: Actor, *, request_id: int, phone: str, vault: PhoneVault
) -> Appointment:
    """Book the proposed time for the request's patient; ``SlotTaken`` offers the next slots.

    A request accepted before (also by a concurrent tap) returns its appointment; one declined
    raises ``Conflict``. The patient is registered first and stays so if the booking fails.
    """
    require(actor, "appointment.book")
    request = _own_request(session, actor, request_id, phone, vault)
    if request.status == ACCEPTED and request.appointment_id is not None:
        return access_appointment(session, actor, request.appointment_id)
    if request.status != "proposed" or request.proposed_start is None:
        raise Conflict("This proposal was already answered")
    if request.doctor_id is None:
        raise Conflict("This proposal names no doctor; the clinic will confirm it")
    patient = proposal_patient(session, actor, request_id=request_id, phone=phone, vault=vault)
    try:
        with session.begin_nested():
            appt = book_appointment(
                session,
                actor,
                doctor_id=request.doctor_id,
                patient_id=patient.id,
                slot_start=request.proposed_start,
                branch_id=request.branch_id,
                source="whatsapp",
                idempotency_key=f"web-request:{request.id}",
            )
    except (DoctorNotAvailable, ValidationFailed) as exc:
        # the desk typed a time that is no (longer a) bookable slot: offer real ones instead
        raise SlotTaken(alternatives=_next_free(session, actor, request)) from exc
    won = _answer(session, actor, request, ACCEPTED, appointment_id=appt.id, patient_id=patient.id)
    # a concurrent tap that answered first booked this very row (same idempotency key)
    if not won and (request.status != ACCEPTED or request.appointment_id != appt.id):
        raise Conflict("This proposal was already answered")
    return appt


def decline_proposal(
    session: Session, actor: Actor, *, request_id: int, phone: str, vault: PhoneVault
) -> BookingRequest:
    """Mark the proposal declined (the patient books another time); a repeat is a no-op."""
    request = _own_request(session, actor, request_id, phone, vault)
    if request.status == DECLINED:
        return request
    answered = request.status == "proposed" and _answer(session, actor, request, DECLINED)
    if not answered and request.status != DECLINED:
        raise Conflict("This proposal was already answered")
    return request


def _own_request(
    session: Session, actor: Actor, request_id: int, phone: str, vault: PhoneVault
) -> BookingRequest:
    request = access_booking_request(session, actor, request_id)
    try:
        phone_hash = vault.lookup_hash(normalise_phone(phone))
    except ValidationFailed as exc:
        raise NotFound("Booking request not found") from exc
    if request.phone_cipher is None or request.phone_hash != phone_hash:
        raise NotFound("Booking request not found")
    return request


def _next_free(session: Session, actor: Actor, request: BookingRequest) -> list[Any]:
    assert request.doctor_id is not None and request.proposed_start is not None
    return free_slots_after(
        session,
        request.tenant_id,
        doctor_id=request.doctor_id,
        after=request.proposed_start,
        now=actor.clock(),
        branch_id=request.branch_id,
    )


def _answer(
    session: Session, actor: Actor, request: BookingRequest, status: str, **values: Any
) -> bool:
    """Compare-and-set ``proposed`` → ``status`` (audited); False if another tap won."""
    result = session.execute(
        update(BookingRequest)
        .where(
            BookingRequest.tenant_id == request.tenant_id,
            BookingRequest.id == request.id,
            BookingRequest.status == "proposed",
        )
        .values(status=status, **values)
        .execution_options(synchronize_session=False)
    )
    session.refresh(request)
    if cast("CursorResult[Any]", result).rowcount != 1:
        return False
    audit.record(
        session,
        actor,
        f"booking_request.{status}",
        entity="booking_request",
        entity_id=request.id,
        detail={"appointment_id": request.appointment_id},
    )
    return True
