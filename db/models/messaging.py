"""WhatsApp messages, conversation sessions, templates, the outbox and ratings."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, SmallInteger, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.base import (
    Base,
    BigId,
    CreatedMixin,
    IdMixin,
    JsonDoc,
    TenantMixin,
    UTCDateTime,
    tenant_ref,
)


class WhatsAppMessage(IdMixin, TenantMixin, CreatedMixin, Base):
    """Every inbound and outbound message with its delivery status."""

    __tablename__ = "whatsapp_messages"
    __table_args__ = (
        UniqueConstraint("tenant_id", "wa_message_id"),
        Index("ix_whatsapp_messages_contact", "tenant_id", "contact_key", "created_at"),
    )
    direction: Mapped[str] = mapped_column(String(3))  # in | out
    wa_message_id: Mapped[str | None] = mapped_column(String(128))
    phone_number_id: Mapped[str] = mapped_column(String(32))
    contact_key: Mapped[str] = mapped_column(String(140))  # wa_id or bsuid
    patient_id: Mapped[int | None] = tenant_ref("patients")
    msg_type: Mapped[str] = mapped_column(String(20))
    template_name: Mapped[str | None] = mapped_column(String(120))
    body: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc)  # purged after retention
    status: Mapped[str] = mapped_column(String(12), default="queued")
    error_code: Mapped[int | None] = mapped_column(Integer)
    error_title: Mapped[str | None] = mapped_column(String(200))
    pricing_category: Mapped[str | None] = mapped_column(String(30))
    status_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    outbox_id: Mapped[int | None] = mapped_column(BigId)
    purged_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class ConversationSession(IdMixin, TenantMixin, CreatedMixin, Base):
    """Per-contact state machine of the WhatsApp conversation and its 24-hour window."""

    __tablename__ = "conversation_sessions"
    __table_args__ = (UniqueConstraint("tenant_id", "contact_key"),)
    contact_key: Mapped[str] = mapped_column(String(140))
    patient_id: Mapped[int | None] = tenant_ref("patients")
    state: Mapped[str] = mapped_column(String(40), default="idle")
    data: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    language: Mapped[str] = mapped_column(String(10), default="en")
    last_inbound_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)


class MessageTemplate(IdMixin, TenantMixin, CreatedMixin, Base):
    __tablename__ = "message_templates"
    __table_args__ = (UniqueConstraint("tenant_id", "name", "language"),)
    name: Mapped[str] = mapped_column(String(120))
    language: Mapped[str] = mapped_column(String(10))
    category: Mapped[str] = mapped_column(String(20))  # utility | marketing | authentication
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="approved")


class OutboxMessage(IdMixin, TenantMixin, CreatedMixin, Base):
    """A side effect written in the same transaction as the change that caused it.

    Workers claim rows by compare-and-set on ``status``; a lost nudge only delays delivery.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("tenant_id", "dedupe_key"),
        Index("ix_outbox_due", "status", "available_at"),
    )
    kind: Mapped[str] = mapped_column(String(40))  # whatsapp.now_serving, ...
    payload: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    dedupe_key: Mapped[str | None] = mapped_column(String(160))
    status: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(SmallInteger, default=0)
    available_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    claimed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(80))
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)


class Rating(IdMixin, TenantMixin, CreatedMixin, Base):
    __tablename__ = "ratings"
    __table_args__ = (
        UniqueConstraint("tenant_id", "token_id"),
        Index("ix_ratings_created", "tenant_id", "created_at"),  # BI ratings (0019)
    )
    patient_id: Mapped[int] = tenant_ref("patients")
    doctor_id: Mapped[int | None] = tenant_ref("doctors")
    token_id: Mapped[int | None] = tenant_ref("queue_tokens")
    score: Mapped[int] = mapped_column(SmallInteger)
    feedback: Mapped[str | None] = mapped_column(Text)


class WebhookInbox(IdMixin, Base):
    """One signed webhook delivery, stored raw before any parsing or routing.

    Global: the clinic is known only after routing by ``phone_number_id``. The route stores
    the row and answers Meta at once; processing (a task, a worker, the sweep) marks it done.
    """

    __tablename__ = "webhook_inbox"
    __table_args__ = (Index("ix_webhook_inbox_pending", "status", "received_at"),)
    channel: Mapped[str] = mapped_column(String(20), default="whatsapp")
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    body: Mapped[str | None] = mapped_column(Text)  # the raw signed bytes, purged after retention
    status: Mapped[str] = mapped_column(String(12), default="pending")  # pending | done | failed
    attempts: Mapped[int] = mapped_column(SmallInteger, default=0)
    processed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)


class WhatsAppStatusEvent(IdMixin, TenantMixin, CreatedMixin, Base):
    """One delivery status Meta reported for an outbound message, kept raw; applied once."""

    __tablename__ = "whatsapp_status_events"
    __table_args__ = (UniqueConstraint("tenant_id", "wa_message_id", "status"),)
    wa_message_id: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(12))  # sent | delivered | read | failed
    status_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    recipient_id: Mapped[str | None] = mapped_column(String(140))
    errors: Mapped[list[Any] | None] = mapped_column(JsonDoc)
    pricing: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc)
    inbox_id: Mapped[int | None] = mapped_column(BigId)


class JobClaim(Base):
    """One run of a periodic job: ``(job, slot)`` inserted once across every process.

    Global (no tenant): the embedded service's ticker claims a time slot here when there is no
    Redis, so two service processes never run the same minute's reminders twice.
    """

    __tablename__ = "job_claims"
    job: Mapped[str] = mapped_column(String(60), primary_key=True)
    slot: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    claimed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
