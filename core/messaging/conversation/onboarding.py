"""A number QLink does not know: ask name and age, a guardian's consent under 18, register."""

from __future__ import annotations

from core.errors import ValidationFailed
from core.messaging.conversation.menu import send_menu, typed
from core.messaging.conversation.turn import IDLE, Turn
from core.messaging.messages import Button, Buttons
from core.patients.consent import ConsentGrant
from core.patients.registry import register_patient
from core.patients.validation import ADULT_AGE

ASK_NAME, ASK_AGE, ASK_GUARDIAN = "onboard.name", "onboard.age", "onboard.guardian"
MAX_AGE = 120
RELATIONS = {"guardian:parent": "parent", "guardian:guardian": "guardian"}


def onboard(turn: Turn) -> None:
    """Take the next registration step for an unknown sender."""
    if turn.state == ASK_NAME:
        _on_name(turn)
    elif turn.state == ASK_AGE:
        _on_age(turn)
    elif turn.state == ASK_GUARDIAN:
        _on_guardian(turn)
    else:
        turn.say("conv.onboard.ask_name", clinic=turn.clinic)
        turn.go(ASK_NAME)


def _on_name(turn: Turn) -> None:
    name = " ".join(typed(turn).split())
    if not 2 <= len(name) <= 100 or not any(ch.isalpha() for ch in name):
        turn.say("conv.onboard.bad_name")
        return
    turn.say("conv.onboard.ask_age", name=name)
    turn.go(ASK_AGE, name=name)


def _on_age(turn: Turn) -> None:
    text = typed(turn)
    if not text.isdigit() or int(text) > MAX_AGE:
        turn.say("conv.onboard.bad_age")
        return
    name, age = turn.data["name"], int(text)
    if age >= ADULT_AGE:
        _register(turn, name, age, relation=None)
        return
    _ask_guardian(turn, name, age)


def _on_guardian(turn: Turn) -> None:
    choice = turn.message.reply_id or ""
    if choice in RELATIONS:
        _register(turn, turn.data["name"], turn.data["age"], relation=RELATIONS[choice])
    elif choice == "guardian:no":
        turn.say("conv.onboard.refused")
        turn.go(IDLE)
    else:  # anything else: ask the same question again
        _ask_guardian(turn, turn.data["name"], turn.data["age"])


def _ask_guardian(turn: Turn, name: str, age: int) -> None:
    answers = ("parent", "guardian", "no")
    turn.replies.append(
        Buttons(
            body=turn.t("conv.onboard.guardian_body", name=name),
            buttons=tuple(Button(f"guardian:{a}", turn.t(f"conv.onboard.{a}")) for a in answers),
        )
    )
    turn.go(ASK_GUARDIAN, name=name, age=age)


def _register(turn: Turn, name: str, age: int, *, relation: str | None) -> None:
    message = turn.message
    try:
        registered = register_patient(
            turn.session,
            turn.actor,
            vault=turn.vault,
            full_name=name,
            age_years=age,
            phone=f"+{message.wa_id}" if message.wa_id else None,
            wa_bsuid=message.user_id,
            preferred_language=turn.lang,
            guardian_relation=relation,
            consents=[
                ConsentGrant("whatsapp", method="whatsapp", by_guardian=relation is not None)
            ],
        )
    except ValidationFailed:
        turn.say("conv.onboard.bad_name")
        turn.go(ASK_NAME)
        return
    turn.patient = registered.patient
    turn.say("conv.onboard.done", name=registered.patient.full_name, code=registered.patient.code)
    send_menu(turn)
