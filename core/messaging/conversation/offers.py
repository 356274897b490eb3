"""The patient's answer to a waiting-list offer (``core.messaging.slot_offer``).

A tapped reply button ``offer:accept:<id>`` / ``offer:decline:<id>`` answers that offer; a
template quick-reply tap (outside the window, ``qlink_slot_offer``) carries only the button's
text, "Accept" or "Decline" in any catalogue language, and answers the patient's latest open
offer. Both go through core's ``accept_offer`` / ``decline_offer``: accepting books the slot (a
``whatsapp`` booking, confirmed here, not by a second message); declining passes the slot on
and keeps the patient on the waiting list. An offer that expired or was answered meanwhile gets
a polite "no longer held".
"""

from __future__ import annotations

from sqlalchemy import and_, select

from core.errors import Conflict, SlotTaken
from core.messaging.catalogue import LANGUAGES
from core.messaging.conversation.menu import fmt_date, fmt_time
from core.messaging.conversation.turn import IDLE, Turn
from core.messaging.slot_offer import ACCEPT, DECLINE
from core.scheduling.doctors import access_doctor
from core.scheduling.waitlist import accept_offer, access_waitlist_offer, decline_offer
from db.models import WaitlistEntry, WaitlistOffer

WORDS = {
    ACCEPT: {LANGUAGES[lang]["conv.offer.accept"].casefold() for lang in LANGUAGES},
    DECLINE: {LANGUAGES[lang]["conv.offer.decline"].casefold() for lang in LANGUAGES},
}


def on_offer_reply(turn: Turn) -> bool:
    """Answer an offer from a tapped button; False when the message is no offer answer."""
    assert turn.patient is not None
    found = _answer(turn)
    if found is None:
        return False
    action, offer_id = found
    offer = access_waitlist_offer(turn.session, turn.actor, offer_id)
    entry = turn.session.get(WaitlistEntry, offer.entry_id)
    if entry is None or entry.tenant_id != turn.tenant_id or entry.patient_id != turn.patient.id:
        return False
    turn.go(IDLE)
    try:
        with turn.session.begin_nested():
            if action == ACCEPT:
                appt = accept_offer(turn.session, turn.actor, offer_id=offer.id, source="whatsapp")
            else:
                decline_offer(turn.session, turn.actor, offer_id=offer.id)
    except (Conflict, SlotTaken):
        turn.say("conv.offer.gone")
        return True
    if action == DECLINE:
        turn.say("conv.offer.declined")
        return True
    doctor = access_doctor(turn.session, turn.actor, appt.doctor_id)
    local = appt.slot_start.astimezone(turn.zone)
    turn.say(
        "conv.offer.booked",
        doctor=doctor.full_name,
        date=fmt_date(turn, local.date()),
        time=fmt_time(turn, appt.slot_start),
    )
    return True


def _answer(turn: Turn) -> tuple[str, int] | None:
    """Return (accept or decline, offer id) the message answers, else None."""
    message = turn.message
    if message.kind == "template_button":
        said = (message.reply_id or message.text or "").strip().casefold()
        action = next((a for a, words in WORDS.items() if said in words), None)
        offer_id = _latest_open_offer(turn) if action else None
        return (action, offer_id) if action and offer_id else None
    head, _, tail = (message.reply_id or "").rpartition(":")
    if head in (ACCEPT, DECLINE) and tail.isdigit():
        return head, int(tail)
    return None


def _latest_open_offer(turn: Turn) -> int | None:
    assert turn.patient is not None
    return turn.session.scalar(
        select(WaitlistOffer.id)
        .join(
            WaitlistEntry,
            and_(
                WaitlistEntry.tenant_id == turn.tenant_id,
                WaitlistEntry.id == WaitlistOffer.entry_id,
            ),
        )
        .where(
            WaitlistOffer.tenant_id == turn.tenant_id,
            WaitlistOffer.status == "open",
            WaitlistEntry.patient_id == turn.patient.id,
        )
        .order_by(WaitlistOffer.created_at.desc(), WaitlistOffer.id.desc())
        .limit(1)
    )
