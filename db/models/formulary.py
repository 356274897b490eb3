"""A clinic's formulary: the medicines its prescription builder offers (migration 0012)."""

from __future__ import annotations

from sqlalchemy import Boolean, SmallInteger, String, UniqueConstraint, true
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, CreatedMixin, IdMixin, TenantMixin


class FormularyMedicine(IdMixin, TenantMixin, CreatedMixin, Base):
    """One medicine and strength with the defaults the builder pre-fills."""

    __tablename__ = "formulary_medicines"
    __table_args__ = (UniqueConstraint("tenant_id", "name_key"),)
    name: Mapped[str] = mapped_column(String(200))
    strength: Mapped[str | None] = mapped_column(String(60))
    form: Mapped[str | None] = mapped_column(String(30))
    name_key: Mapped[str] = mapped_column(String(260))
    default_pattern: Mapped[str | None] = mapped_column(String(20))
    default_timing: Mapped[str | None] = mapped_column(String(30))
    default_days: Mapped[int | None] = mapped_column(SmallInteger)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
