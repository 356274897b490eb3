"""Data key fingerprint: which data key this database's ciphertexts and lookup hashes belong to.

One global row per key name ("data"). ``fingerprint`` is an HMAC of a fixed label under the key,
so it identifies the key without revealing it. ``next_fingerprint`` is set while ``qlink keys
rotate`` re-encrypts rows under a new key; it is cleared when the rotation switches over.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from db.base import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "key_fingerprints",
        sa.Column("name", sa.String(length=20), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("next_fingerprint", sa.String(length=64), nullable=True),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_key_fingerprints")),
    )


def downgrade() -> None:
    op.drop_table("key_fingerprints")
