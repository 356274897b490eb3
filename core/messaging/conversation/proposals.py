"""The patient's tap on a proposed time (``core.messaging.booking_notices``): Accept or another.

Both the reply button (inside the window) and the template's quick-reply (outside it) carry
``proposal:accept:<request id>`` or ``proposal:other:<request id>``. The sender may not be a
registered patient yet (the request came from the website), so this runs before onboarding;
``core.scheduling.proposals`` checks that the request is this clinic's and was made from this
phone, and anything else (another clinic's id, someone else's request) is not answered here.
Accept books the time and confirms it in the chat; when the time was taken meanwhile, the next
free slots are offered as in a booking; "another time" says how to book.
"""

from __future__ import annotations

from core.errors import Conflict, NotFound, SlotTaken
from core.messaging.booking_notices import ACCEPT_PROPOSAL, OTHER_TIME
from core.messaging.conversation.book_flow import offer_alternatives
from core.messaging.conversation.menu import fmt_date, fmt_time
from core.messaging.conversation.turn import IDLE, Turn
from core.scheduling.doctors import access_doctor
from core.scheduling.proposals import accept_proposal, decline_proposal, proposal_patient
from core.scheduling.web_requests import access_booking_request


def on_proposal_reply(turn: Turn) -> bool:
    """Answer a tap on a proposal's button; False when the message is none (or not theirs)."""
    found = _tapped(turn)
    if found is None or not turn.message.wa_id:
        return False
    action, request_id = found
    phone = "+" + turn.message.wa_id
    try:
        with turn.session.begin_nested():
            if action == ACCEPT_PROPOSAL:
                _accept(turn, request_id, phone)
                return True
            decline_proposal(
                turn.session, turn.actor, request_id=request_id, phone=phone, vault=turn.vault
            )
            turn.say("conv.proposal.declined")
    except NotFound:
        return False
    except Conflict:
        turn.say("conv.proposal.gone")
    turn.go(IDLE)
    return True


def _accept(turn: Turn, request_id: int, phone: str) -> None:
    session, actor, vault = turn.session, turn.actor, turn.vault
    try:
        appt = accept_proposal(session, actor, request_id=request_id, phone=phone, vault=vault)
    except SlotTaken as taken:
        # the patient registered on the way stays (only the booking's savepoint rolled back)
        turn.patient = proposal_patient(
            session, actor, request_id=request_id, phone=phone, vault=vault
        )
        turn.go(IDLE, doctor_id=access_booking_request(session, actor, request_id).doctor_id)
        offer_alternatives(turn, taken.alternatives)
        return
    if turn.patient is None or turn.patient.id != appt.patient_id:
        turn.patient = proposal_patient(
            session, actor, request_id=request_id, phone=phone, vault=vault
        )
    doctor = access_doctor(session, actor, appt.doctor_id)
    local = appt.slot_start.astimezone(turn.zone)
    turn.say(
        "conv.proposal.booked",
        doctor=doctor.full_name,
        date=fmt_date(turn, local.date()),
        time=fmt_time(turn, appt.slot_start),
    )
    turn.go(IDLE)


def _tapped(turn: Turn) -> tuple[str, int] | None:
    """Return (accept or other, request id) the message's button names, else None."""
    head, _, tail = (turn.message.reply_id or "").rpartition(":")
    if head in (ACCEPT_PROPOSAL, OTHER_TIME) and tail.isdigit():
        return head, int(tail)
    return None
