"""Job claims: one row per run of a periodic job, so a time slot runs once across processes.

``job_claims`` (global): the embedded service (no Redis) claims ``(job, slot)`` by inserting
it; the primary key makes a second process's insert a no-op. Old rows are pruned daily.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import db.base

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_claims",
        sa.Column("job", sa.String(length=60), nullable=False),
        sa.Column("slot", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("claimed_at", db.base.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("job", "slot", name=op.f("pk_job_claims")),
    )


def downgrade() -> None:
    op.drop_table("job_claims")
