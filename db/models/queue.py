"""Queue tokens, their counters, doctor day-sessions and the append-only queue events."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    Float,
    Index,
    Integer,
    SmallInteger,
    String,
    UniqueConstraint,
    false,
    text,
)
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

TOKEN_KINDS = ("walk_in", "booked", "follow_up", "emergency", "lab_return", "vip", "priority")
TOKEN_STATUSES = (
    "waiting",
    "called",
    "in_consultation",
    "at_lab",
    "done",
    "missed",
    "cancelled",
    "expired",
)
# A token holds its patient's place in the queue while in one of these statuses (the one-active-
# token rule, the line, expiry and the screens all read this one tuple).
ACTIVE_TOKEN_STATUSES = ("waiting", "called", "in_consultation", "at_lab")
ACTIVE_TOKEN = "status IN ({})".format(",".join(f"'{s}'" for s in ACTIVE_TOKEN_STATUSES))


class TokenCounter(TenantMixin, Base):
    """Last number handed out per department and service day (row-locked on issue)."""

    __tablename__ = "token_counters"
    __table_args__ = (UniqueConstraint("tenant_id", "department_id", "service_date"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    department_id: Mapped[int] = tenant_ref("departments")
    service_date: Mapped[dt.date] = mapped_column(Date)
    last_number: Mapped[int] = mapped_column(Integer, default=0)


class QueueToken(IdMixin, TenantMixin, CreatedMixin, Base):
    """A patient's place in a doctor's or department's queue for one service day."""

    __tablename__ = "queue_tokens"
    __table_args__ = (
        UniqueConstraint("tenant_id", "department_id", "service_date", "number"),
        # One active token per patient per queue (doctor-session or department pool).
        Index(
            "uq_queue_tokens_active_patient",
            "tenant_id",
            "patient_id",
            "service_date",
            "queue_key",
            unique=True,
            sqlite_where=text(ACTIVE_TOKEN),
            postgresql_where=text(ACTIVE_TOKEN),
        ),
        Index("ix_queue_tokens_board", "tenant_id", "branch_id", "status", "number"),
        Index("ix_queue_tokens_doctor_day", "tenant_id", "doctor_id", "service_date", "status"),
        Index("ix_queue_tokens_day", "tenant_id", "service_date"),  # BI reports (0019)
        UniqueConstraint("tenant_id", "appointment_id"),
        CheckConstraint(
            "kind IN ('walk_in','booked','follow_up','emergency','lab_return','vip','priority')",
            name="kind",
        ),
        CheckConstraint(
            "status IN ('waiting','called','in_consultation','at_lab','done','missed',"
            "'cancelled','expired')",
            name="status",
        ),
    )
    branch_id: Mapped[int] = tenant_ref("branches")
    department_id: Mapped[int] = tenant_ref("departments")
    doctor_id: Mapped[int | None] = tenant_ref("doctors")
    patient_id: Mapped[int] = tenant_ref("patients")
    appointment_id: Mapped[int | None] = tenant_ref("appointments")
    service_date: Mapped[dt.date] = mapped_column(Date)
    queue_key: Mapped[str] = mapped_column(String(40))  # "doctor:12:AM" or "dept:3"
    number: Mapped[int] = mapped_column(Integer)
    code: Mapped[str] = mapped_column(String(16))  # ORT-014
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="waiting")
    source: Mapped[str] = mapped_column(String(16), default="reception")
    room: Mapped[str | None] = mapped_column(String(40))
    target_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)  # booked slot time
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    called_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    recall_count: Mapped[int] = mapped_column(SmallInteger, default=0)
    eta_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    notified_eta_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    near_turn_sent: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )  # this turn's heads-up
    issued_by: Mapped[int | None] = mapped_column(BigId)
    allocated_by: Mapped[str | None] = mapped_column(String(24))  # strategy that chose doctor
    version: Mapped[int] = mapped_column(Integer, default=1)
    # The first projection's raw wait from issue and its range's consultation term, in minutes,
    # and the first call (``called_at`` is reset by a recall or a return from the lab); each
    # written once, never overwritten: what the ETA calibration learns from (0024).
    first_called_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    issued_wait_minutes: Mapped[float | None] = mapped_column(Float)
    issued_spread_minutes: Mapped[float | None] = mapped_column(Float)


class DoctorSession(IdMixin, TenantMixin, CreatedMixin, Base):
    """A doctor's working state for one day at one branch (active, paused, delay)."""

    __tablename__ = "doctor_sessions"
    __table_args__ = (UniqueConstraint("tenant_id", "doctor_id", "branch_id", "service_date"),)
    doctor_id: Mapped[int] = tenant_ref("doctors")
    branch_id: Mapped[int] = tenant_ref("branches")
    service_date: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="active")
    room: Mapped[str | None] = mapped_column(String(40))
    paused_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    paused_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)  # expected resume
    paused_minutes: Mapped[int] = mapped_column(Integer, default=0)  # total paused today
    delay_minutes: Mapped[int] = mapped_column(Integer, default=0)  # last announced delay
    delay_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)  # late start ends
    note: Mapped[str | None] = mapped_column(String(200))


class QueueEvent(TenantMixin, Base):
    """Append-only record of every queue change; screens and messages replay these."""

    __tablename__ = "queue_events"
    __table_args__ = (
        Index("ix_queue_events_branch_stream", "tenant_id", "branch_id", "id"),
        Index("ix_queue_events_token", "tenant_id", "token_id"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    branch_id: Mapped[int] = mapped_column(BigId)
    department_id: Mapped[int | None] = mapped_column(BigId)
    doctor_id: Mapped[int | None] = mapped_column(BigId)
    token_id: Mapped[int | None] = mapped_column(BigId)
    type: Mapped[str] = mapped_column(String(32))  # TokenIssued, TokenCalled, ...
    actor_id: Mapped[int | None] = mapped_column(BigId)
    payload: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class QueueProjection(TenantMixin, Base):
    """Per department: how far the stored ETAs are projected (``core.queue.projection``).

    ``dirty_seq`` is bumped after each committed queue change; ``projected_seq`` is the value a
    projection read before it ran. ``dirty_seq > projected_seq`` means a re-projection is due.
    """

    __tablename__ = "queue_projections"
    __table_args__ = (UniqueConstraint("tenant_id", "department_id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    department_id: Mapped[int] = tenant_ref("departments")
    dirty_seq: Mapped[int] = mapped_column(BigId, default=0)
    projected_seq: Mapped[int] = mapped_column(BigId, default=0)
    projected_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # The calibration the last projection learned (``core.queue.eta_calibration``), read with
    # the department by ``queue_place`` so a read-only projection (issue) uses it too (0024).
    eta_bias: Mapped[float | None] = mapped_column(Float)
    eta_early: Mapped[float | None] = mapped_column(Float)
    eta_late: Mapped[float | None] = mapped_column(Float)
    # Per on-duty doctor, when a walk-in joining now would be called, as the last projection
    # saw it (``core.queue.eta_projection.LineTails``): the ETA given at issue (0026).
    line_tails: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc)
