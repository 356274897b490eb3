"""Tenants, branches, departments, doctors and their schedules."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Integer,
    SmallInteger,
    String,
    Text,
    Time,
    UniqueConstraint,
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


class Tenant(IdMixin, CreatedMixin, Base):
    """A clinic or clinic network; the root of every tenant-owned row."""

    __tablename__ = "tenants"
    slug: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Kolkata")
    currency: Mapped[str] = mapped_column(String(3), default="INR")
    locale: Mapped[str] = mapped_column(String(10), default="en")
    status: Mapped[str] = mapped_column(String(20), default="active")
    # Queue weights, free follow-up policy, retention days, GSTIN ... (see core for keys).
    settings: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)


class Branch(IdMixin, TenantMixin, CreatedMixin, Base):
    __tablename__ = "branches"
    __table_args__ = (UniqueConstraint("tenant_id", "slug"),)
    slug: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(Text)
    timezone: Mapped[str | None] = mapped_column(String(64))
    signage_language: Mapped[str] = mapped_column(String(10), default="en-IN")
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Department(IdMixin, TenantMixin, CreatedMixin, Base):
    __tablename__ = "departments"
    __table_args__ = (UniqueConstraint("tenant_id", "branch_id", "code"),)
    branch_id: Mapped[int] = tenant_ref("branches")
    code: Mapped[str] = mapped_column(String(8))  # token prefix, e.g. ORT
    name: Mapped[str] = mapped_column(String(120))
    allocation_strategy: Mapped[str] = mapped_column(String(30), default="shortest_wait")
    queue_settings: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Doctor(IdMixin, TenantMixin, CreatedMixin, Base):
    __tablename__ = "doctors"
    department_id: Mapped[int] = tenant_ref("departments")
    full_name: Mapped[str] = mapped_column(String(200))
    specialization: Mapped[str] = mapped_column(String(120))
    qualification: Mapped[str | None] = mapped_column(String(200))
    registration_number: Mapped[str | None] = mapped_column(String(60))
    fee_minor: Mapped[int] = mapped_column(Integer, default=0)
    default_room: Mapped[str | None] = mapped_column(String(40))
    default_slot_minutes: Mapped[int] = mapped_column(SmallInteger, default=15)
    free_followup_days: Mapped[int] = mapped_column(SmallInteger, default=0)
    free_followup_visits: Mapped[int] = mapped_column(SmallInteger, default=0)
    performance_weight: Mapped[float] = mapped_column(default=1.0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class DoctorBranch(IdMixin, TenantMixin, Base):
    """A doctor practising at a branch (doctors may work at several)."""

    __tablename__ = "doctor_branches"
    __table_args__ = (UniqueConstraint("tenant_id", "doctor_id", "branch_id"),)
    doctor_id: Mapped[int] = tenant_ref("doctors")
    branch_id: Mapped[int] = tenant_ref("branches")
    room: Mapped[str | None] = mapped_column(String(40))


class DoctorSchedule(IdMixin, TenantMixin, CreatedMixin, Base):
    """A weekly working window in the branch's local wall-clock time."""

    __tablename__ = "doctor_schedules"
    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday"),
        CheckConstraint("start_time < end_time", name="window"),
        CheckConstraint("slot_minutes BETWEEN 5 AND 120", name="slot_minutes"),
        CheckConstraint("capacity >= 1", name="capacity"),
    )
    doctor_id: Mapped[int] = tenant_ref("doctors", index=True)
    branch_id: Mapped[int] = tenant_ref("branches")
    weekday: Mapped[int] = mapped_column(SmallInteger)  # Monday = 0
    start_time: Mapped[dt.time] = mapped_column(Time)
    end_time: Mapped[dt.time] = mapped_column(Time)
    slot_minutes: Mapped[int] = mapped_column(SmallInteger, default=15)
    capacity: Mapped[int] = mapped_column(SmallInteger, default=1)
    room: Mapped[str | None] = mapped_column(String(40))
    valid_from: Mapped[dt.date | None] = mapped_column(Date)
    valid_to: Mapped[dt.date | None] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class ScheduleBreak(IdMixin, TenantMixin, Base):
    __tablename__ = "schedule_breaks"
    __table_args__ = (CheckConstraint("start_time < end_time", name="window"),)
    schedule_id: Mapped[int] = tenant_ref("doctor_schedules", ondelete="CASCADE", index=True)
    start_time: Mapped[dt.time] = mapped_column(Time)
    end_time: Mapped[dt.time] = mapped_column(Time)
    label: Mapped[str] = mapped_column(String(60), default="Break")


class DoctorLeave(IdMixin, TenantMixin, CreatedMixin, Base):
    """Leave or ad-hoc unavailability; a time range narrows it to part of a day."""

    __tablename__ = "doctor_leaves"
    __table_args__ = (CheckConstraint("start_date <= end_date", name="dates"),)
    doctor_id: Mapped[int] = tenant_ref("doctors", index=True)
    start_date: Mapped[dt.date] = mapped_column(Date)
    end_date: Mapped[dt.date] = mapped_column(Date)
    start_time: Mapped[dt.time | None] = mapped_column(Time)
    end_time: Mapped[dt.time | None] = mapped_column(Time)
    reason: Mapped[str | None] = mapped_column(String(200))
    created_by: Mapped[int | None] = mapped_column(BigId)


class ScheduleOverride(IdMixin, TenantMixin, CreatedMixin, Base):
    """Replaces a doctor's weekly schedule at a branch for one date."""

    __tablename__ = "schedule_overrides"
    __table_args__ = (UniqueConstraint("tenant_id", "doctor_id", "branch_id", "on_date"),)
    doctor_id: Mapped[int] = tenant_ref("doctors")
    branch_id: Mapped[int] = tenant_ref("branches")
    on_date: Mapped[dt.date] = mapped_column(Date)
    start_time: Mapped[dt.time] = mapped_column(Time)
    end_time: Mapped[dt.time] = mapped_column(Time)
    slot_minutes: Mapped[int] = mapped_column(SmallInteger, default=15)
    capacity: Mapped[int] = mapped_column(SmallInteger, default=1)
    breaks: Mapped[list[Any]] = mapped_column(JsonDoc, default=list)  # [["13:00","14:00"], ...]
    room: Mapped[str | None] = mapped_column(String(40))


class Announcement(IdMixin, TenantMixin, CreatedMixin, Base):
    """A line of text on a branch's waiting-room screens."""

    __tablename__ = "announcements"
    branch_id: Mapped[int] = tenant_ref("branches", index=True)
    body: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(10), default="en")
    position: Mapped[int] = mapped_column(SmallInteger, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    starts_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    ends_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class WhatsAppNumber(Base):
    """Global routing table: Meta's phone_number_id -> tenant and branch.

    Kept out of the tenant tables on purpose: inbound webhooks must find the tenant before any
    tenant scope exists (a reference table when sharded by tenant).
    """

    __tablename__ = "whatsapp_numbers"
    phone_number_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(BigId, ForeignKey("tenants.id"), index=True)
    branch_id: Mapped[int | None] = tenant_ref("branches")
    display_number: Mapped[str | None] = mapped_column(String(32))
    waba_id: Mapped[str | None] = mapped_column(String(32))
