"""Lab catalogue and turnaround: result kind, women's reference range, order turnaround.

``lab_tests`` gains ``result_kind`` (``numeric`` results are checked against the reference
range, ``text`` results are reports such as an X-ray) and a second reference range used for
female patients when set. ``lab_orders`` gains ``turnaround_seconds``: result time minus order
time, written once when the result is entered, so reports need no date arithmetic per dialect.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("lab_tests") as batch_op:
        batch_op.add_column(
            sa.Column("result_kind", sa.String(length=10), server_default="numeric", nullable=False)
        )
        batch_op.add_column(sa.Column("ref_low_female", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("ref_high_female", sa.Float(), nullable=True))
    with op.batch_alter_table("lab_orders") as batch_op:
        batch_op.add_column(sa.Column("turnaround_seconds", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("lab_orders") as batch_op:
        batch_op.drop_column("turnaround_seconds")
    with op.batch_alter_table("lab_tests") as batch_op:
        batch_op.drop_column("ref_high_female")
        batch_op.drop_column("ref_low_female")
        batch_op.drop_column("result_kind")
