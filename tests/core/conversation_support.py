"""A WhatsApp contact talking to clinic_a's number, for the conversation tests."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.clock import FrozenClock
from core.context import Actor
from core.messaging.conversation import TokenLinks, handle_inbound
from core.messaging.inbound_types import InboundMessage
from core.messaging.messages import Buttons, ListMessage, Message, Text, from_payload
from core.patients.phones import PhoneVault
from db.models import ConversationSession, OutboxMessage
from tests.support import Clinic

VAULT = PhoneVault("test-key")
NOW = dt.datetime(2026, 12, 7, 4, 0, tzinfo=dt.UTC)  # Monday 09:30 in Kolkata
NUMBER = "1111000111"
LINKS = TokenLinks(secret="link-secret", base_url="https://q.example")
_wamids = itertools.count(1)


@dataclasses.dataclass
class Chat:
    """One contact's chat with a clinic; ``send`` returns the replies written for that message."""

    session: Session
    clinic: Clinic
    clock: FrozenClock
    wa_id: str | None = "919876543210"
    user_id: str | None = None

    @property
    def actor(self) -> Actor:
        return Actor.system(self.clinic.tenant_id, clock=self.clock)

    def inbound(self, kind: str = "text", **fields: Any) -> InboundMessage:
        return InboundMessage(
            tenant_id=self.clinic.tenant_id,
            phone_number_id=NUMBER,
            wa_message_id=fields.pop("wamid", f"wamid.TEST{next(_wamids):06d}"),
            contact_key=self.wa_id or self.user_id or "",
            kind=kind,  # type: ignore[arg-type]
            received_at=self.clock(),
            wa_id=self.wa_id,
            user_id=self.user_id,
            **fields,
        )

    def deliver(self, message: InboundMessage) -> list[Message]:
        handle_inbound(self.session, self.actor, message=message, vault=VAULT, links=LINKS)
        return replies_to(self.session, self.clinic, message.wa_message_id)

    def say(self, text: str) -> list[Message]:
        return self.deliver(self.inbound("text", text=text))

    def tap(self, reply_id: str, title: str = "") -> list[Message]:
        return self.deliver(self.inbound("list_reply", reply_id=reply_id, text=title))

    def state(self) -> ConversationSession:
        return self.session.scalars(
            select(ConversationSession)
            .where(
                ConversationSession.tenant_id == self.clinic.tenant_id,
                ConversationSession.contact_key == (self.wa_id or self.user_id),
            )
            .execution_options(populate_existing=True)
        ).one()


def replies_to(session: Session, clinic: Clinic, wamid: str) -> list[Message]:
    payloads = session.execute(
        select(OutboxMessage.kind, OutboxMessage.payload)
        .where(
            OutboxMessage.tenant_id == clinic.tenant_id,
            OutboxMessage.dedupe_key.like(f"conv:{wamid}:%"),
        )
        .order_by(OutboxMessage.dedupe_key)
    ).all()
    assert {kind for kind, _ in payloads} <= {"whatsapp.send"}
    return [from_payload(payload)[1] for _, payload in payloads]


def texts(messages: list[Message]) -> str:
    """All bodies of the replies, one per line."""
    return "\n".join(m.body for m in messages if isinstance(m, Text | Buttons | ListMessage))


def rows(message: Message) -> list[tuple[str, str]]:
    assert isinstance(message, ListMessage), message
    return [(r.id, r.title) for s in message.sections for r in s.rows]


def buttons(message: Message) -> list[tuple[str, str]]:
    assert isinstance(message, Buttons), message
    return [(b.id, b.title) for b in message.buttons]


def row_id(message: Message, index: int = 0) -> str:
    return rows(message)[index][0]
