"""Booking through the clinic's WhatsApp Flow instead of the list steps, when one is set.

"book" sends Meta's interactive ``flow`` message (``flow_action: "data_exchange"``: the
endpoint's INIT answers the first screen, ``DEPARTMENT``) carrying a freshly signed
``flow_token`` that names the patient; the token and the Flow's progress are kept in the
contact's session (``data["flow"]``, kept across the conversation's other steps). The Flows
endpoint (``core.messaging.flows.booking``) books on the last screen; the ``nfm_reply`` that
follows is matched here by ``flow_token`` and answered once with the booking, or books first
when the Flow only collected the choices (a token without a patient). The result is read
from the session, never from the client's ``response_json``.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from core.errors import SlotTaken
from core.messaging.conversation import book_flow
from core.messaging.conversation.menu import fmt_date, fmt_time, send_menu
from core.messaging.conversation.turn import FLOW_KEY, IDLE, Turn
from core.messaging.flows.booking import booking_flow_of, mint_booking_flow
from core.messaging.messages import FlowMessage
from core.scheduling.booking import access_appointment, book_appointment
from core.scheduling.doctors import access_doctor

LIST_STEPS = "book_list"  # menu:book_list runs the list steps even when a Flow is set


def start_booking(turn: Turn) -> None:
    """ "book": the clinic's booking Flow when it has one, else the list steps."""
    if not offer_flow(turn):
        book_flow.start_booking(turn)


def offer_flow(turn: Turn) -> bool:
    """Send the booking Flow if the clinic has one (and links can sign it); else False."""
    if turn.links is None or turn.patient is None:
        return False
    flow_id = booking_flow_of(turn.session, turn.actor)
    if flow_id is None:
        return False
    token, state = mint_booking_flow(
        turn.session,
        turn.actor,
        secret=turn.links.secret,
        contact_key=turn.message.contact_key,
        patient_id=turn.patient.id,
    )
    turn.replies.append(
        FlowMessage(
            body=turn.t("conv.flow.body"),
            flow_id=flow_id,
            flow_token=token,
            cta=turn.t("conv.flow.cta"),
        )
    )
    turn.go(IDLE, **{FLOW_KEY: state})
    return True


def on_flow_reply(turn: Turn) -> None:
    """Answer the Flow's completion (``nfm_reply``) once: confirm the booking it made."""
    assert turn.patient is not None
    state = dict(turn.data.get(FLOW_KEY) or {})
    if not turn.message.flow_token or state.get("token") != turn.message.flow_token:
        turn.say("conv.flow.stale")
        send_menu(turn)
        return
    if state.get("status") == "replied":  # a second completion of the same form: said once
        return
    result = state.get("result")
    if state.get("status") != "done" or not isinstance(result, dict):
        turn.say("conv.flow.stale")
        send_menu(turn)
        return
    state["status"] = "replied"
    turn.go(IDLE, **{FLOW_KEY: state})
    doctor = access_doctor(turn.session, turn.actor, int(result["doctor_id"]))
    start = dt.datetime.fromisoformat(str(result["slot_start"]))
    if result.get("appointment_id") is not None:
        appointment = access_appointment(turn.session, turn.actor, int(result["appointment_id"]))
        start = appointment.slot_start
    else:
        try:
            book_appointment(
                turn.session,
                turn.actor,
                doctor_id=doctor.id,
                patient_id=turn.patient.id,
                slot_start=start,
                branch_id=int(result["branch_id"]),
                source="whatsapp",
                idempotency_key="flow:"
                + hashlib.sha256(str(state["token"]).encode()).hexdigest()[:40],
            )
        except SlotTaken as taken:
            turn.go(book_flow.SLOT, doctor_id=doctor.id, **{FLOW_KEY: state})
            book_flow.offer_alternatives(turn, taken.alternatives)
            return
    local = start.astimezone(turn.zone)
    turn.say(
        "conv.book.done",
        doctor=doctor.full_name,
        date=fmt_date(turn, local.date()),
        time=fmt_time(turn, start),
    )
