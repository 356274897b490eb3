"""A phone for a sender known only by username: ``request_contact_info`` before booking.

Since 2026 a WhatsApp user may write with a username: the webhook then carries the
business-scoped user id and no phone. Booking needs a number the clinic can call, so a
patient with neither a stored phone nor one in the message is sent Meta's interactive
``request_contact_info`` (one tap shares their own contact card) and the booking waits in
``ASK_PHONE``; the ``contacts`` answer sets the patient's phone (``update_patient``, sealed
and audited) and the booking starts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from core.messaging.conversation.menu import KEYWORDS, typed
from core.messaging.conversation.turn import IDLE, Turn
from core.messaging.messages import ContactRequest
from core.patients.registry import update_patient

ASK_PHONE = "contact.phone"
NEEDS_PHONE = frozenset({"book", "book_list"})  # menu actions that need a phone first


def on_turn(turn: Turn, actions: Mapping[str, Callable[[Turn], None]]) -> bool:
    """Ask for the phone, or take the shared one; ``True`` when this turn was answered here."""
    if turn.patient is None:
        return False
    if turn.message.kind == "contacts" and turn.state == ASK_PHONE:
        _take_phone(turn, actions)
        return True
    wanted = _wanted_action(turn)
    if wanted in NEEDS_PHONE and needs_phone(turn):
        ask_phone(turn, then=wanted)
        return True
    return False


def needs_phone(turn: Turn) -> bool:
    """Whether neither the patient's record nor this message gives a phone."""
    assert turn.patient is not None
    return not turn.patient.phone_cipher and not turn.message.wa_id


def ask_phone(turn: Turn, *, then: str) -> None:
    """Send ``request_contact_info``; the answer continues with the action ``then``."""
    turn.replies.append(ContactRequest(turn.t("conv.contact.ask")))
    turn.go(ASK_PHONE, then=then)


def _take_phone(turn: Turn, actions: Mapping[str, Callable[[Turn], None]]) -> None:
    assert turn.patient is not None
    phone = turn.message.shared_phone
    if not phone:
        turn.replies.append(ContactRequest(turn.t("conv.contact.none")))
        return
    then = str(turn.data.get("then") or "")
    update_patient(turn.session, turn.actor, turn.patient.id, vault=turn.vault, phone=f"+{phone}")
    turn.say("conv.contact.thanks")
    turn.go(IDLE)
    action = actions.get(then)
    if action is not None:
        action(turn)


def _wanted_action(turn: Turn) -> str | None:
    choice = turn.message.reply_id or ""
    if choice.startswith("menu:"):
        return choice[5:]
    return KEYWORDS.get(typed(turn).casefold())
