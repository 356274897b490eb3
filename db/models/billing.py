"""Bills, items, payments and per-tenant sequences; amounts are integer minor units (paise)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Integer, SmallInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, BigId, CreatedMixin, IdMixin, TenantMixin, UTCDateTime, tenant_ref


class Sequence(TenantMixin, Base):
    """Gap-free per-tenant counters (patient codes, bill and receipt numbers)."""

    __tablename__ = "sequences"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(40))
    last_value: Mapped[int] = mapped_column(Integer, default=0)


class Bill(IdMixin, TenantMixin, CreatedMixin, Base):
    __tablename__ = "bills"
    __table_args__ = (
        UniqueConstraint("tenant_id", "number"),
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
    status: Mapped[str] = mapped_column(String(16), default="pending")
    subtotal_minor: Mapped[int] = mapped_column(Integer, default=0)
    discount_minor: Mapped[int] = mapped_column(Integer, default=0)
    tax_minor: Mapped[int] = mapped_column(Integer, default=0)
    total_minor: Mapped[int] = mapped_column(Integer, default=0)
    paid_minor: Mapped[int] = mapped_column(Integer, default=0)
    issued_by: Mapped[int | None] = mapped_column(BigId)
    issued_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


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


class Payment(IdMixin, TenantMixin, CreatedMixin, Base):
    __tablename__ = "payments"
    __table_args__ = (
        UniqueConstraint("tenant_id", "receipt_number"),
        UniqueConstraint("tenant_id", "idempotency_key"),
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
