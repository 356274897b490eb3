"""Plans, subscriptions, usage metering, the audit log and the breach log."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, BigId, CreatedMixin, IdMixin, JsonDoc, TenantMixin, UTCDateTime


class Plan(IdMixin, Base):
    """A platform-wide price plan (Starter, Growth, Hospital)."""

    __tablename__ = "plans"
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(60))
    monthly_price_minor: Mapped[int] = mapped_column(Integer)
    message_quota: Mapped[int] = mapped_column(Integer)  # per month, 0 = unlimited
    token_daily_cap: Mapped[int] = mapped_column(Integer)  # 0 = unlimited
    max_doctors: Mapped[int] = mapped_column(Integer, default=0)
    features: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)


class Subscription(IdMixin, TenantMixin, CreatedMixin, Base):
    __tablename__ = "subscriptions"
    plan_id: Mapped[int] = mapped_column(BigId, ForeignKey("plans.id"))
    status: Mapped[str] = mapped_column(String(16), default="active")  # active|suspended|ended
    started_on: Mapped[dt.date] = mapped_column(Date)
    current_period_end: Mapped[dt.date] = mapped_column(Date)
    suspended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class UsageMetric(IdMixin, TenantMixin, Base):
    __tablename__ = "usage_metrics"
    __table_args__ = (UniqueConstraint("tenant_id", "metric", "period_date"),)
    metric: Mapped[str] = mapped_column(String(40))  # tokens_issued, messages_sent, ...
    period_date: Mapped[dt.date] = mapped_column(Date)
    value: Mapped[int] = mapped_column(Integer, default=0)


class AuditChainHead(Base):
    """Tip of each tenant's audit hash chain; row-locked while appending."""

    __tablename__ = "audit_chain_heads"
    chain: Mapped[str] = mapped_column(String(40), primary_key=True)  # "t:<id>" or "platform"
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    last_hash: Mapped[str] = mapped_column(String(64))


class AuditEntry(Base):
    """Append-only, hash-chained record of a sensitive read or write (triggers forbid edits)."""

    __tablename__ = "audit_log"
    __table_args__ = (UniqueConstraint("chain", "seq"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int | None] = mapped_column(BigId, index=True)
    chain: Mapped[str] = mapped_column(String(40))
    seq: Mapped[int] = mapped_column(Integer)
    actor_id: Mapped[int | None] = mapped_column(BigId)
    actor_label: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(60))  # patient.read, appointment.book, ...
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str | None] = mapped_column(String(40))
    detail: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class BreachLogEntry(IdMixin, TenantMixin, CreatedMixin, Base):
    __tablename__ = "breach_log"
    detected_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    description: Mapped[str] = mapped_column(Text)
    affected_count: Mapped[int] = mapped_column(Integer, default=0)
    reported_by: Mapped[int | None] = mapped_column(BigId)
    notified_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
