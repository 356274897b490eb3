"""ETA calibration: the wait each token was predicted at issue, and what a department learned.

``queue_tokens.issued_wait_minutes`` and ``issued_spread_minutes``: the first projection's raw
wait from issue and the consultation term of its range, written once by the projection that
first stores ``eta_at`` and never overwritten (``eta_at`` itself moves until the call);
``first_called_at``: the first call, set by the claim (``called_at`` is reset by a recall or a
return from the lab).
``queue_projections.eta_bias``, ``eta_early``, ``eta_late``: the calibration the department's
last projection learned from recent calls (``core.queue.eta_calibration``). All nullable; no
table is rewritten (PostgreSQL adds nullable columns without a default in place).

Revision ID: 0024
Revises: 0020
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import db.base

revision = "0024"
down_revision = "0020"
branch_labels = None
depends_on = None

TOKEN_COLUMNS = ("issued_wait_minutes", "issued_spread_minutes")
PROJECTION_COLUMNS = ("eta_bias", "eta_early", "eta_late")


def upgrade() -> None:
    with op.batch_alter_table("queue_tokens") as batch:
        for name in TOKEN_COLUMNS:
            batch.add_column(sa.Column(name, sa.Float(), nullable=True))
        batch.add_column(
            sa.Column("first_called_at", db.base.UTCDateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("queue_projections") as batch:
        for name in PROJECTION_COLUMNS:
            batch.add_column(sa.Column(name, sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("queue_projections") as batch:
        for name in reversed(PROJECTION_COLUMNS):
            batch.drop_column(name)
    with op.batch_alter_table("queue_tokens") as batch:
        batch.drop_column("first_called_at")
        for name in reversed(TOKEN_COLUMNS):
            batch.drop_column(name)
