"""Doctor day sessions: expected end of a pause and of a delay; token allocation and heads-up.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from db.base import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("doctor_sessions") as batch:
        batch.add_column(sa.Column("paused_until", UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("delay_until", UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table("queue_tokens") as batch:
        batch.add_column(sa.Column("allocated_by", sa.String(length=24), nullable=True))
        batch.add_column(
            sa.Column("near_turn_sent", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("queue_tokens") as batch:
        batch.drop_column("near_turn_sent")
        batch.drop_column("allocated_by")
    with op.batch_alter_table("doctor_sessions") as batch:
        batch.drop_column("delay_until")
        batch.drop_column("paused_until")
