"""Appointments, booking requests and the waiting list."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    Index,
    SmallInteger,
    String,
    Text,
    Time,
    UniqueConstraint,
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
    utcnow,
)

APPOINTMENT_STATUSES = (
    "scheduled",
    "checked_in",
    "in_consultation",
    "completed",
    "cancelled",
    "no_show",
)
# Cancelled appointments free their seat; every other status keeps holding it.
SEAT_HOLDING = "status <> 'cancelled'"


class Appointment(IdMixin, TenantMixin, CreatedMixin, Base):
    """A booked seat in a doctor's slot.

    Double booking is prevented by the partial unique index on (doctor, slot start, seat) over
    seat-holding rows; capacity above 1 means seats 1..capacity, and an overbook takes a seat
    above capacity with ``overbooked`` set.
    """

    __tablename__ = "appointments"
    __table_args__ = (
        Index(
            "uq_appointments_seat",
            "tenant_id",
            "doctor_id",
            "slot_start",
            "seat",
            unique=True,
            sqlite_where=text(SEAT_HOLDING),
            postgresql_where=text(SEAT_HOLDING),
        ),
        # One patient cannot hold two seats of the same slot, even at capacity above 1.
        Index(
            "uq_appointments_patient_slot",
            "tenant_id",
            "doctor_id",
            "slot_start",
            "patient_id",
            unique=True,
            sqlite_where=text(SEAT_HOLDING),
            postgresql_where=text(SEAT_HOLDING),
        ),
        UniqueConstraint("tenant_id", "idempotency_key"),
        Index("ix_appointments_day", "tenant_id", "branch_id", "service_date", "status"),
        Index("ix_appointments_patient", "tenant_id", "patient_id", "slot_start"),
        Index("ix_appointments_date", "tenant_id", "service_date"),  # BI reports (0019)
        CheckConstraint("seat >= 1", name="seat"),
        CheckConstraint("slot_start < slot_end", name="slot"),
        CheckConstraint(
            "status IN ('scheduled','checked_in','in_consultation','completed',"
            "'cancelled','no_show')",
            name="status",
        ),
    )
    branch_id: Mapped[int] = tenant_ref("branches")
    department_id: Mapped[int] = tenant_ref("departments")
    doctor_id: Mapped[int] = tenant_ref("doctors")
    patient_id: Mapped[int] = tenant_ref("patients")
    slot_start: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    slot_end: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    service_date: Mapped[dt.date] = mapped_column(Date)  # local date in the branch timezone
    seat: Mapped[int] = mapped_column(SmallInteger, default=1)
    overbooked: Mapped[bool] = mapped_column(Boolean, default=False)
    visit_type: Mapped[str] = mapped_column(String(16), default="new")  # new | follow_up
    source: Mapped[str] = mapped_column(String(16), default="reception")
    status: Mapped[str] = mapped_column(String(20), default="scheduled")
    reason: Mapped[str | None] = mapped_column(Text)
    booked_by: Mapped[int | None] = mapped_column(BigId)
    idempotency_key: Mapped[str | None] = mapped_column(String(80))
    rescheduled_from_id: Mapped[int | None] = tenant_ref("appointments")
    cancel_reason: Mapped[str | None] = mapped_column(String(200))
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    checked_in_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    no_show_probability: Mapped[float | None] = mapped_column()
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class BookingRequest(IdMixin, TenantMixin, CreatedMixin, Base):
    """A network-widget booking captured for staff to confirm (fallback mode)."""

    __tablename__ = "booking_requests"
    __table_args__ = (UniqueConstraint("tenant_id", "idempotency_key"),)
    branch_id: Mapped[int] = tenant_ref("branches")
    department_id: Mapped[int | None] = tenant_ref("departments")
    doctor_id: Mapped[int | None] = tenant_ref("doctors")
    preferred_date: Mapped[dt.date] = mapped_column(Date)
    preferred_window: Mapped[str | None] = mapped_column(String(40))
    patient_name: Mapped[str] = mapped_column(String(200))
    phone_cipher: Mapped[bytes | None] = mapped_column()
    phone_hash: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), default="pending")
    appointment_id: Mapped[int | None] = tenant_ref("appointments")
    idempotency_key: Mapped[str | None] = mapped_column(String(80))
    handled_by: Mapped[int | None] = mapped_column(BigId)
    # 0017: the patient's age, who they became on confirmation, and a counter-proposal
    age_years: Mapped[int | None] = mapped_column(SmallInteger)
    patient_id: Mapped[int | None] = tenant_ref("patients")
    proposed_start: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    staff_note: Mapped[str | None] = mapped_column(String(200))
    handled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # 0025: the booking page's language (en/hi); the desk's answer goes out in it
    language: Mapped[str | None] = mapped_column(String(10), default="en", server_default="en")


class WebBookingCode(IdMixin, TenantMixin, CreatedMixin, Base):
    """A one-time code sent over WhatsApp to prove a phone before a web booking (hashed)."""

    __tablename__ = "web_booking_codes"
    __table_args__ = (Index("ix_web_booking_codes_phone", "tenant_id", "phone_hash", "created_at"),)
    phone_hash: Mapped[str] = mapped_column(String(64))
    salt: Mapped[str] = mapped_column(String(32))
    code_hash: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(SmallInteger, default=0)
    verified_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    ticket_hash: Mapped[str | None] = mapped_column(String(64))
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class CalendarFeed(IdMixin, TenantMixin, CreatedMixin, Base):
    """A doctor's external calendar (ICS) whose busy times remove offered web slots."""

    __tablename__ = "calendar_feeds"
    __table_args__ = (UniqueConstraint("tenant_id", "doctor_id"),)
    doctor_id: Mapped[int] = tenant_ref("doctors")
    url: Mapped[str] = mapped_column(String(500))
    busy: Mapped[list[list[str]]] = mapped_column(JsonDoc, default=list)  # [[start, end] UTC]
    fetched_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(300))


WAITLIST_STATUSES = ("waiting", "offered", "booked", "removed")
OFFER_STATUSES = ("open", "accepted", "declined", "expired")


class WaitlistEntry(IdMixin, TenantMixin, CreatedMixin, Base):
    """A patient waiting for a full day: a doctor (or any doctor of a department), a date and
    an optional local time window. At most one live entry per patient and date."""

    __tablename__ = "waitlist_entries"
    __table_args__ = (
        Index(
            "uq_waitlist_entries_live",
            "tenant_id",
            "patient_id",
            "on_date",
            unique=True,
            sqlite_where=text("status IN ('waiting','offered')"),
            postgresql_where=text("status IN ('waiting','offered')"),
        ),
        Index("ix_waitlist_entries_day", "tenant_id", "branch_id", "on_date", "status"),
        CheckConstraint("doctor_id IS NOT NULL OR department_id IS NOT NULL", name="target"),
        CheckConstraint("status IN ('waiting','offered','booked','removed')", name="status"),
    )
    branch_id: Mapped[int] = tenant_ref("branches")
    doctor_id: Mapped[int | None] = tenant_ref("doctors")
    department_id: Mapped[int | None] = tenant_ref("departments")
    patient_id: Mapped[int] = tenant_ref("patients")
    on_date: Mapped[dt.date] = mapped_column(Date)  # local date in the branch timezone
    window_start: Mapped[dt.time | None] = mapped_column(Time)
    window_end: Mapped[dt.time | None] = mapped_column(Time)
    note: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="waiting")
    appointment_id: Mapped[int | None] = tenant_ref("appointments")
    added_by: Mapped[int | None] = mapped_column(BigId)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class WaitlistOffer(IdMixin, TenantMixin, CreatedMixin, Base):
    """A freed slot offered to one waiting entry until ``expires_at``.

    The partial unique indexes are the referees: one open offer per slot and one per entry,
    and never the same slot twice to the same entry.
    """

    __tablename__ = "waitlist_offers"
    __table_args__ = (
        Index(
            "uq_waitlist_offers_open_slot",
            "tenant_id",
            "doctor_id",
            "slot_start",
            unique=True,
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
        Index(
            "uq_waitlist_offers_open_entry",
            "tenant_id",
            "entry_id",
            unique=True,
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
        UniqueConstraint("tenant_id", "entry_id", "doctor_id", "slot_start"),
        Index("ix_waitlist_offers_open", "status", "expires_at"),
        CheckConstraint("status IN ('open','accepted','declined','expired')", name="status"),
    )
    entry_id: Mapped[int] = tenant_ref("waitlist_entries")
    doctor_id: Mapped[int] = tenant_ref("doctors")
    slot_start: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(12), default="open")
    appointment_id: Mapped[int | None] = tenant_ref("appointments")
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    closed_by: Mapped[int | None] = mapped_column(BigId)
