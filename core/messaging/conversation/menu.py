"""The main menu, paginated pickers and the language choice."""

from __future__ import annotations

import datetime as dt

from core.messaging.conversation.turn import IDLE, Turn
from core.messaging.dates import clock_label, day_label
from core.messaging.messages import Button, Buttons, ListMessage, Row, Section
from core.patients.registry import update_patient

MENU = ("book", "status", "checkin", "manage", "rx", "records", "rate", "language")
LANGUAGES = ("en", "hi")
LIST_ROWS = 10  # Meta's limit for one list message
PAGE_ROWS = LIST_ROWS - 1  # a longer list shows 9 rows and a "More" row
ROW_TITLE = 24
# Typed words that open a menu item (either language), so a patient never has to find the list.
KEYWORDS = {
    "book": "book",
    "appointment": "book",
    "बुक": "book",
    "status": "status",
    "token": "status",
    "टोकन": "status",
    "checkin": "checkin",
    "check in": "checkin",
    "cancel": "manage",
    "reschedule": "manage",
    "रद्द": "manage",
    "prescription": "rx",
    "prescriptions": "rx",
    "पर्चा": "rx",
    "records": "records",
    "my records": "records",
    "रिकॉर्ड": "records",
    "मेरे रिकॉर्ड": "records",
    "rate": "rate",
    "language": "language",
    "भाषा": "language",
}
LANGUAGE_WORDS = {"english": "en", "अंग्रेज़ी": "en", "hindi": "hi", "हिंदी": "hi", "हिन्दी": "hi"}


def send_menu(turn: Turn) -> None:
    """Show the main menu and return the conversation to idle."""
    rows = tuple(Row(f"menu:{item}", turn.t(f"conv.menu.{item}")[:ROW_TITLE]) for item in MENU)
    turn.replies.append(
        ListMessage(
            body=turn.t("conv.menu.body"),
            button=turn.t("conv.menu.button"),
            sections=(Section(turn.t("conv.menu.section")[:ROW_TITLE], rows),),
        )
    )
    turn.go(IDLE)


def pick(turn: Turn, *, body: str, button_key: str, rows: list[Row], page: int = 0) -> None:
    """Show ``rows`` as a list; more than ten go nine at a time with a "More" row."""
    if len(rows) <= LIST_ROWS and page == 0:
        shown = rows
    else:
        start = page * PAGE_ROWS
        shown = rows[start : start + PAGE_ROWS]
        if len(rows) > start + PAGE_ROWS:
            more = Row(f"more:{page + 1}", turn.t("conv.more"), turn.t("conv.more_desc"))
            shown = [*shown, more]
    label = turn.t(button_key)
    turn.replies.append(
        ListMessage(body=body, button=label, sections=(Section(label[:ROW_TITLE], tuple(shown)),))
    )


def more_page(turn: Turn) -> int | None:
    """Return the page a "More" row asks for, if that is what was tapped."""
    choice = turn.message.reply_id or ""
    if choice.startswith("more:") and choice[5:].isdigit():
        return int(choice[5:])
    return None


def chosen_id(turn: Turn, prefix: str) -> int | None:
    """Return the number in a tapped row id ``prefix:<n>``, else None."""
    choice = turn.message.reply_id or ""
    head, _, tail = choice.partition(":")
    return int(tail) if head == prefix and tail.isdigit() else None


def ask_language(turn: Turn) -> None:
    """Offer English and Hindi as two buttons."""
    turn.replies.append(
        Buttons(
            body=turn.t("conv.lang.body"),
            buttons=(Button("lang:en", "English"), Button("lang:hi", "हिंदी")),
        )
    )
    turn.go(IDLE)


def set_language(turn: Turn, lang: str) -> None:
    """Remember ``lang`` on the conversation and the patient, confirm it, show the menu."""
    turn.lang = lang
    patient = turn.patient
    if patient is not None and patient.preferred_language != lang:
        update_patient(
            turn.session, turn.actor, patient.id, vault=turn.vault, preferred_language=lang
        )
    turn.say("conv.lang.set")
    if patient is not None:
        send_menu(turn)


def language_asked(turn: Turn) -> str | None:
    """Return the language a tapped button or a typed word asks for, if any."""
    choice = turn.message.reply_id or ""
    if choice.startswith("lang:") and choice[5:] in LANGUAGES:
        return choice[5:]
    return LANGUAGE_WORDS.get(typed(turn).casefold())


def typed(turn: Turn) -> str:
    """Return the text the patient typed (not a tapped title), stripped."""
    return (turn.message.text or "").strip() if turn.message.kind == "text" else ""


def fmt_date(turn: Turn, day: dt.date) -> str:
    """Return a short date for a list row or a sentence, in the contact's language."""
    return day_label(turn.lang, day)


def fmt_time(turn: Turn, instant: dt.datetime) -> str:
    """Return the branch's wall-clock time of ``instant`` in the contact's language."""
    return clock_label(turn.lang, instant, turn.zone)
