"""One inbound message being answered: the contact's session row, its state and the replies.

The session row is read once, changed in memory, and written back by compare-and-set on
``version``: two workers answering the same contact at once cannot both win, the loser's
transaction raises ``Conflict`` and is retried by the caller from the fresh state.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import CursorResult, case, update
from sqlalchemy.orm import Session

from core.context import Actor
from core.errors import Conflict
from core.messaging.catalogue import text
from core.messaging.inbound_types import InboundMessage
from core.messaging.messages import SEND, Message, Recipient, Text, to_payload
from core.patients.phones import PhoneVault
from core.queue.events import enqueue_intents
from db.models import ConversationSession, Patient

IDLE = "idle"
IDLE_TIMEOUT = dt.timedelta(minutes=30)
# Step data that outlives the steps: an open booking Flow (its token and progress, written by
# the Flows endpoint too) stays in the session until a newer Flow replaces it.
FLOW_KEY = "flow"


@dataclass(frozen=True)
class TokenLinks:
    """How to sign a patient's tracking link: the app's secret and its public base URL.

    Without a base URL the link is the relative path ``/t/{ref}`` of the signage service.
    """

    secret: str
    base_url: str = ""


@dataclass
class Turn:
    """The answer being built to one inbound message."""

    session: Session
    actor: Actor
    message: InboundMessage
    vault: PhoneVault
    tenant_id: int
    branch_id: int
    clinic: str
    zone: ZoneInfo  # the branch's wall clock
    session_id: int
    version: int
    state: str
    data: dict[str, Any]
    lang: str
    patient: Patient | None
    links: TokenLinks | None
    now: dt.datetime
    replies: list[Message] = field(default_factory=list)

    def say(self, key: str, **params: object) -> None:
        """Queue a plain text reply from the catalogue."""
        self.replies.append(Text(self.t(key, **params)))

    def say_lines(self, lines: list[str]) -> None:
        """Queue one text reply made of several catalogue lines."""
        self.replies.append(Text("\n".join(lines)))

    def t(self, key: str, **params: object) -> str:
        """Return a catalogue string in the contact's language."""
        return text(self.lang, key, **params)

    def go(self, state: str, **data: Any) -> None:
        """Move the conversation to ``state`` with fresh step data (an open Flow is kept)."""
        kept = {FLOW_KEY: self.data[FLOW_KEY]} if FLOW_KEY in self.data else {}
        self.state, self.data = state, {**kept, **data}


def dedupe_key(wa_message_id: str, index: int) -> str:
    """Return the outbox key of the ``index``-th reply to an inbound message."""
    # Zero-padded: the outbox orders a batch by key, and the replies must go out in order.
    return f"conv:{wa_message_id}:{index:02d}"


def timed_out(row: ConversationSession, now: dt.datetime) -> bool:
    """Return whether the contact left a flow idle for longer than ``IDLE_TIMEOUT``."""
    last = row.last_inbound_at or row.updated_at
    return row.state != IDLE and last is not None and now - last > IDLE_TIMEOUT


def save(turn: Turn) -> None:
    """Write the session back (compare-and-set on version) and the replies to the outbox."""
    result = cast(
        CursorResult[Any],
        turn.session.execute(
            update(ConversationSession)
            .where(
                ConversationSession.id == turn.session_id,
                ConversationSession.tenant_id == turn.tenant_id,
                ConversationSession.version == turn.version,
            )
            .values(
                state=turn.state,
                data=turn.data,
                language=turn.lang,
                patient_id=turn.patient.id if turn.patient else None,
                # Never back: the window opened at the message's own (Meta) time may be later
                # than this process's clock.
                last_inbound_at=case(
                    (
                        ConversationSession.last_inbound_at > turn.now,
                        ConversationSession.last_inbound_at,
                    ),
                    else_=turn.now,
                ),
                updated_at=turn.now,
                version=turn.version + 1,
            )
            .execution_options(synchronize_session=False)
        ),
    )
    if result.rowcount != 1:
        raise Conflict("The conversation moved on meanwhile; answer the message again")
    _write_replies(turn)


def _write_replies(turn: Turn) -> None:
    message = turn.message
    recipient = Recipient(
        contact_key=message.contact_key,
        phone_number_id=message.phone_number_id,
        patient_id=turn.patient.id if turn.patient else None,
        wa_id=message.wa_id,
        user_id=message.user_id,
    )
    rows = [
        {
            "kind": SEND,
            "payload": to_payload(recipient, reply),
            "dedupe_key": dedupe_key(message.wa_message_id, index),
        }
        for index, reply in enumerate(turn.replies)
    ]
    enqueue_intents(turn.session, tenant_id=turn.tenant_id, rows=rows, at=turn.now)
