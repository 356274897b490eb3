"""Declarative base, naming convention and portable column types."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKeyConstraint,
    Integer,
    MetaData,
    Table,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def _fk_column(constraint: Any, _table: Table) -> str:
    # The referencing column, after tenant_id in a composite key: a composite reference keeps
    # the name of the single-column key it replaced.
    return str(constraint.elements[-1].parent.name)


NAMING_CONVENTION: dict[str, Any] = {
    "fk_column": _fk_column,
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(fk_column)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Tables shared by every clinic: no tenant wall inside them, reference tables under Citus. Every
# other table with a tenant_id column is tenant-owned: UNIQUE (tenant_id, id), and references
# between tenant-owned tables are composite, (tenant_id, x_id) -> (tenant_id, id).
GLOBAL_TABLES = frozenset(
    {
        "tenants",
        "plans",
        "whatsapp_numbers",  # inbound routing: finds the tenant before any tenant scope exists
        "key_fingerprints",
        "audit_chain_heads",  # keyed by chain ("t:<id>" or "platform"), not by tenant
        "webhook_inbox",  # raw deliveries, stored before routing tells the tenant
        "job_claims",  # (job, slot) runs of periodic jobs across processes, no tenant
    }
)
TENANT_REF = "qlink_tenant_ref"

# BIGINT on PostgreSQL, INTEGER on SQLite (only INTEGER PRIMARY KEY aliases the rowid).
BigId = BigInteger().with_variant(Integer(), "sqlite")
JsonDoc = (
    JSON().with_variant(postgresql.JSONB(), "postgresql").with_variant(sqlite.JSON(), "sqlite")
)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on every backend; naive values are rejected."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)  # type: ignore[no-any-return]
        return value.astimezone(dt.UTC)  # type: ignore[no-any-return]


def is_tenant_owned(table: Table) -> bool:
    """Tell whether ``table`` holds one clinic's rows (a tenant_id column, not a global table)."""
    return "tenant_id" in table.columns and table.name not in GLOBAL_TABLES


def tenant_fk(column: str, referred: str, *, ondelete: str | None = None) -> ForeignKeyConstraint:
    """Return the composite reference ``(tenant_id, column) -> referred (tenant_id, id)``.

    The database then refuses a row that points at another clinic's row, whatever the code
    does. Use it in ``__table_args__``, or declare the column with ``tenant_ref``.
    """
    return ForeignKeyConstraint(
        ["tenant_id", column], [f"{referred}.tenant_id", f"{referred}.id"], ondelete=ondelete
    )


def tenant_ref(referred: str, *, ondelete: str | None = None, index: bool = False) -> Any:
    """Declare a column referencing a row of the same clinic in table ``referred``.

    The easy way to point at another tenant-owned table: ``Base`` turns it into the composite
    foreign key of ``tenant_fk`` when the class is mapped. Nullability follows ``Mapped[...]``.
    """
    return mapped_column(BigId, index=index, info={TENANT_REF: (referred, ondelete)})


def _complete_tenant_keys(table: Table) -> None:
    if is_tenant_owned(table):
        table.append_constraint(UniqueConstraint("tenant_id", "id"))
    for column in table.columns:
        if TENANT_REF in column.info:
            referred, ondelete = column.info[TENANT_REF]
            table.append_constraint(tenant_fk(column.name, referred, ondelete=ondelete))


class Base(DeclarativeBase):
    """Declarative base; completes every tenant-owned table's keys when a class is mapped.

    A tenant-owned table gets ``UNIQUE (tenant_id, id)`` (what composite references point at)
    and one composite foreign key per ``tenant_ref`` column.
    """

    metadata = MetaData(naming_convention=NAMING_CONVENTION)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        table = cls.__dict__.get("__table__")
        if isinstance(table, Table):
            _complete_tenant_keys(table)

    def __repr__(self) -> str:
        ident = getattr(self, "id", None)
        tenant = getattr(self, "tenant_id", None)
        return f"<{type(self).__name__} id={ident} tenant={tenant}>"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class IdMixin:
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)


class TenantMixin:
    """Marks a tenant-owned table: scoped in core, guarded by RLS on PostgreSQL."""

    tenant_id: Mapped[int] = mapped_column(BigId, index=True)


class CreatedMixin:
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
