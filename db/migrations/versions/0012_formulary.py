"""Per-clinic formulary of medicines the prescription builder picks from.

The clinical record tables (consultations, notes, vitals, diagnoses, prescriptions and their
items, favourites) exist since 0001 with append-only versions (``supersedes_id``,
``correction_reason``); this adds only ``formulary_medicines``: a name and strength with the
default dosage pattern, timing and course length the builder pre-fills. ``name_key`` (casefolded
name + strength) is unique per clinic, so a medicine is listed once.

PostgreSQL: the table gets the row-level security policy of every tenant-owned table (the policy
text is frozen here).

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import db.base

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_SETTING = "current_setting('app.tenant_id', true)"
_POLICY = f"({_SETTING} = '*' OR tenant_id = NULLIF(NULLIF({_SETTING}, ''), '*')::bigint)"
_TABLE = "formulary_medicines"


def upgrade() -> None:
    t = _TABLE
    op.create_table(
        t,
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("tenant_id", _ID, nullable=False),
        sa.Column("created_at", db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("strength", sa.String(length=60), nullable=True),
        sa.Column("form", sa.String(length=30), nullable=True),
        sa.Column("name_key", sa.String(length=260), nullable=False),
        sa.Column("default_pattern", sa.String(length=20), nullable=True),
        sa.Column("default_timing", sa.String(length=30), nullable=True),
        sa.Column("default_days", sa.SmallInteger(), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{t}")),
        sa.UniqueConstraint("tenant_id", "id", name=op.f(f"uq_{t}_tenant_id_id")),
        sa.UniqueConstraint("tenant_id", "name_key", name=op.f(f"uq_{t}_tenant_id_name_key")),
    )
    op.create_index(op.f(f"ix_{t}_tenant_id"), t, ["tenant_id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE {t} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {t} FORCE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY tenant_isolation ON {t} USING {_POLICY} WITH CHECK {_POLICY}")


def downgrade() -> None:
    op.drop_table(_TABLE)
