"""The language of the booking page a web request came from.

``booking_requests.language``: ``en`` or ``hi`` (the page's ``?lang=``), so the desk's answer
(the proposed time, and the confirmation of a patient registered from the request) goes out in
the language the patient read. Nullable with a constant default: PostgreSQL adds it in place
(no table rewrite) and earlier rows read ``en``.

Revision ID: 0025
Revises: 0024
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("booking_requests") as batch:
        batch.add_column(sa.Column("language", sa.String(10), nullable=True, server_default="en"))


def downgrade() -> None:
    with op.batch_alter_table("booking_requests") as batch:
        batch.drop_column("language")
