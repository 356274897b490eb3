"""Waiting list for full days: entries with a time window, and offers of freed slots.

``waitlist_entries`` existed since 0001 with a shape nothing ever wrote (doctor only, no window,
no branch); it is dropped and created again. ``waitlist_offers`` is new: a freed slot offered
to one entry until it expires. Partial unique indexes make the rules hold under races: one open
offer per slot, one per entry, the same slot never twice to one entry, and one live entry per
patient and date.

PostgreSQL: both tables get the row-level security policy of every tenant-owned table (the
policy text is frozen here).

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import db.base

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_SETTING = "current_setting('app.tenant_id', true)"
_POLICY = f"({_SETTING} = '*' OR tenant_id = NULLIF(NULLIF({_SETTING}, ''), '*')::bigint)"
_LIVE = "status IN ('waiting','offered')"
_OPEN = "status = 'open'"


def _fk(table: str, column: str, referred: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id", column],
        [f"{referred}.tenant_id", f"{referred}.id"],
        name=op.f(f"fk_{table}_{column}_{referred}"),
    )


def _common(table: str) -> list[sa.SchemaItem]:
    return [
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("tenant_id", _ID, nullable=False),
        sa.Column("created_at", db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
        sa.UniqueConstraint("tenant_id", "id", name=op.f(f"uq_{table}_tenant_id_id")),
    ]


def _entries() -> None:
    t = "waitlist_entries"
    op.create_table(
        t,
        sa.Column("branch_id", _ID, nullable=False),
        sa.Column("doctor_id", _ID, nullable=True),
        sa.Column("department_id", _ID, nullable=True),
        sa.Column("patient_id", _ID, nullable=False),
        sa.Column("on_date", sa.Date(), nullable=False),
        sa.Column("window_start", sa.Time(), nullable=True),
        sa.Column("window_end", sa.Time(), nullable=True),
        sa.Column("note", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("appointment_id", _ID, nullable=True),
        sa.Column("added_by", _ID, nullable=True),
        sa.Column("updated_at", db.base.UTCDateTime(timezone=True), nullable=False),
        *_common(t),
        _fk(t, "branch_id", "branches"),
        _fk(t, "doctor_id", "doctors"),
        _fk(t, "department_id", "departments"),
        _fk(t, "patient_id", "patients"),
        _fk(t, "appointment_id", "appointments"),
        sa.CheckConstraint(
            "doctor_id IS NOT NULL OR department_id IS NOT NULL", name=op.f(f"ck_{t}_target")
        ),
        sa.CheckConstraint(
            "status IN ('waiting','offered','booked','removed')", name=op.f(f"ck_{t}_status")
        ),
    )
    op.create_index(op.f(f"ix_{t}_tenant_id"), t, ["tenant_id"])
    op.create_index("ix_waitlist_entries_day", t, ["tenant_id", "branch_id", "on_date", "status"])
    op.create_index(
        "uq_waitlist_entries_live",
        t,
        ["tenant_id", "patient_id", "on_date"],
        unique=True,
        sqlite_where=sa.text(_LIVE),
        postgresql_where=sa.text(_LIVE),
    )


def _offers() -> None:
    t = "waitlist_offers"
    op.create_table(
        t,
        sa.Column("entry_id", _ID, nullable=False),
        sa.Column("doctor_id", _ID, nullable=False),
        sa.Column("slot_start", db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("appointment_id", _ID, nullable=True),
        sa.Column("closed_at", db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_by", _ID, nullable=True),
        *_common(t),
        _fk(t, "entry_id", "waitlist_entries"),
        _fk(t, "doctor_id", "doctors"),
        _fk(t, "appointment_id", "appointments"),
        sa.UniqueConstraint(
            "tenant_id",
            "entry_id",
            "doctor_id",
            "slot_start",
            name=op.f(f"uq_{t}_tenant_id_entry_id_doctor_id_slot_start"),
        ),
        sa.CheckConstraint(
            "status IN ('open','accepted','declined','expired')", name=op.f(f"ck_{t}_status")
        ),
    )
    op.create_index(op.f(f"ix_{t}_tenant_id"), t, ["tenant_id"])
    op.create_index("ix_waitlist_offers_open", t, ["status", "expires_at"])
    for name, cols in (
        ("uq_waitlist_offers_open_slot", ["tenant_id", "doctor_id", "slot_start"]),
        ("uq_waitlist_offers_open_entry", ["tenant_id", "entry_id"]),
    ):
        op.create_index(
            name,
            t,
            cols,
            unique=True,
            sqlite_where=sa.text(_OPEN),
            postgresql_where=sa.text(_OPEN),
        )


def upgrade() -> None:
    op.drop_table("waitlist_entries")  # never written by any release: no rows to keep
    _entries()
    _offers()
    if op.get_bind().dialect.name == "postgresql":
        for table in ("waitlist_entries", "waitlist_offers"):
            op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
            op.execute(
                f"CREATE POLICY tenant_isolation ON {table} USING {_POLICY} WITH CHECK {_POLICY}"
            )


def downgrade() -> None:
    op.drop_table("waitlist_offers")
    op.drop_table("waitlist_entries")
    op.create_table(
        "waitlist_entries",
        sa.Column("doctor_id", _ID, nullable=False),
        sa.Column("patient_id", _ID, nullable=False),
        sa.Column("on_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("appointment_id", _ID, nullable=True),
        *_common("waitlist_entries"),
        _fk("waitlist_entries", "doctor_id", "doctors"),
        _fk("waitlist_entries", "patient_id", "patients"),
        _fk("waitlist_entries", "appointment_id", "appointments"),
        sa.UniqueConstraint(
            "tenant_id",
            "doctor_id",
            "on_date",
            "patient_id",
            name=op.f("uq_waitlist_entries_tenant_id_doctor_id_on_date_patient_id"),
        ),
    )
    op.create_index(op.f("ix_waitlist_entries_tenant_id"), "waitlist_entries", ["tenant_id"])
