"""Line tails: what a department's last projection knows of a walk-in joining each line.

``queue_projections.line_tails`` (JSON, nullable): the projection's service day, time, the newest
token id it read and, per on-duty doctor, when that doctor would be free for a walk-in joining
now (``core.queue.eta_projection.Tail``). Token issue reads it with the department (no extra
statement) and gives the new token its ETA without reading the whole line again. No table is
rewritten (a nullable column without a default).

Revision ID: 0026
Revises: 0025
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql, sqlite

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

JSON_DOC = (
    sa.JSON().with_variant(postgresql.JSONB(), "postgresql").with_variant(sqlite.JSON(), "sqlite")
)


def upgrade() -> None:
    with op.batch_alter_table("queue_projections") as batch:
        batch.add_column(sa.Column("line_tails", JSON_DOC, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("queue_projections") as batch:
        batch.drop_column("line_tails")
