"""Bills, items, payments, the billing catalogue, free follow-ups and per-tenant sequences.

Amounts are integer minor units (paise); tax rates are basis points (1800 = 18 % GST).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Index,
    Integer,
    SmallInteger,
    String,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, BigId, CreatedMixin, IdMixin, TenantMixin, UTCDateTime, tenant_ref


class Sequence(TenantMixin, Base):
    """Gap-free per-tenant counters (patient codes, bill and receipt numbers)."""

    __tablename__ = "sequences"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(40))
    last_value: Mapped[int] = mapped_column(Integer, default=0)


class CatalogueItem(IdMixin, TenantMixin, CreatedMixin, Base):
    """A clinic's billable procedure, test or medicine with its price and tax (GST) rate."""

    __tablename__ = "billing_catalogue"
    __table_args__ = (
        UniqueConstraint("tenant_id", "code"),
        CheckConstraint("kind IN ('procedure','test','medicine','other')", name="kind"),
        CheckConstraint("unit_price_minor >= 0", name="price"),
        CheckConstraint("tax_rate_bp BETWEEN 0 AND 10000", name="tax_rate"),
        CheckConstraint("NOT gst_exempt OR tax_rate_bp = 0", name="exempt_untaxed"),
    )
    code: Mapped[str] = mapped_column(String(24))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    unit_price_minor: Mapped[int] = mapped_column(Integer)
    tax_rate_bp: Mapped[int] = mapped_column(Integer, default=0)
    gst_exempt: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())


class Bill(IdMixin, TenantMixin, CreatedMixin, Base):
    __tablename__ = "bills"
    __table_args__ = (
        UniqueConstraint("tenant_id", "number"),
        UniqueConstraint("tenant_id", "token_id"),  # one bill per visit
        CheckConstraint("paid_minor <= total_minor", name="not_overpaid"),
        CheckConstraint(
            "status IN ('draft','pending','partially_paid','paid','void')", name="status"
        ),
    )
    number: Mapped[str] = mapped_column(String(24))
    branch_id: Mapped[int] = tenant_ref("branches")
    patient_id: Mapped[int] = tenant_ref("patients", index=True)
    doctor_id: Mapped[int | None] = tenant_ref("doctors")
    appointment_id: Mapped[int | None] = tenant_ref("appointments")
    consultation_id: Mapped[int | None] = tenant_ref("consultations")
    token_id: Mapped[int | None] = tenant_ref("queue_tokens")
    status: Mapped[str] = mapped_column(String(16), default="pending")
    subtotal_minor: Mapped[int] = mapped_column(Integer, default=0)
    discount_minor: Mapped[int] = mapped_column(Integer, default=0)
    tax_minor: Mapped[int] = mapped_column(Integer, default=0)
    total_minor: Mapped[int] = mapped_column(Integer, default=0)
    paid_minor: Mapped[int] = mapped_column(Integer, default=0)
    issued_by: Mapped[int | None] = mapped_column(BigId)
    issued_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    paid_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class BillItem(IdMixin, TenantMixin, Base):
    __tablename__ = "bill_items"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity"),)
    bill_id: Mapped[int] = tenant_ref("bills", index=True)
    kind: Mapped[str] = mapped_column(String(20))  # consultation, procedure, test, medicine
    description: Mapped[str] = mapped_column(String(200))
    quantity: Mapped[int] = mapped_column(SmallInteger, default=1)
    unit_price_minor: Mapped[int] = mapped_column(Integer)
    discount_minor: Mapped[int] = mapped_column(Integer, default=0)
    tax_rate_bp: Mapped[int] = mapped_column(Integer, default=0)  # 1800 = 18% GST
    tax_minor: Mapped[int] = mapped_column(Integer, default=0)
    amount_minor: Mapped[int] = mapped_column(Integer)
    catalogue_item_id: Mapped[int | None] = tenant_ref("billing_catalogue")
    gst_exempt: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Payment(IdMixin, TenantMixin, CreatedMixin, Base):
    __tablename__ = "payments"
    __table_args__ = (
        UniqueConstraint("tenant_id", "receipt_number"),
        UniqueConstraint("tenant_id", "idempotency_key"),
        Index("ix_payments_received", "tenant_id", "received_at"),  # BI revenue (0019)
        CheckConstraint("amount_minor > 0", name="amount"),
        CheckConstraint("mode IN ('cash','card','upi')", name="mode"),
    )
    bill_id: Mapped[int] = tenant_ref("bills", index=True)
    receipt_number: Mapped[str] = mapped_column(String(24))
    mode: Mapped[str] = mapped_column(String(8))
    amount_minor: Mapped[int] = mapped_column(Integer)
    reference: Mapped[str | None] = mapped_column(String(80))
    idempotency_key: Mapped[str | None] = mapped_column(String(80))
    received_by: Mapped[int | None] = mapped_column(BigId)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class FreeFollowUp(IdMixin, TenantMixin, CreatedMixin, Base):
    """A free visit granted against a paid consultation; ``seq`` counts the uses of that bill.

    UNIQUE (source bill, seq) is what makes two desks at once grant one visit, not two.
    """

    __tablename__ = "free_followups"
    __table_args__ = (
        UniqueConstraint("tenant_id", "source_bill_id", "seq"),
        UniqueConstraint("tenant_id", "bill_id"),
        CheckConstraint("seq >= 1", name="seq"),
    )
    source_bill_id: Mapped[int] = tenant_ref("bills")
    bill_id: Mapped[int] = tenant_ref("bills")
    doctor_id: Mapped[int] = tenant_ref("doctors")
    patient_id: Mapped[int] = tenant_ref("patients")
    seq: Mapped[int] = mapped_column(SmallInteger)
