"""Webhook inbox and WhatsApp delivery statuses.

``webhook_inbox`` (global): every signed WhatsApp delivery is stored raw before parsing, so the
route answers Meta at once and a crash between store and process loses nothing (the sweep picks
pending rows up). ``whatsapp_status_events`` (tenant-owned): one row per (message, status), the
database's proof that a redelivered status is applied once; errors[] and pricing kept raw.

PostgreSQL: the new tenant-owned table gets the same row-level security policy as the others
(the policy text is frozen here).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql, sqlite

import db.base

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_SETTING = "current_setting('app.tenant_id', true)"
_POLICY = f"({_SETTING} = '*' OR tenant_id = NULLIF(NULLIF({_SETTING}, ''), '*')::bigint)"


def _json() -> sa.types.TypeEngine[object]:
    return (
        sa.JSON()
        .with_variant(postgresql.JSONB(astext_type=Text()), "postgresql")
        .with_variant(sqlite.JSON(), "sqlite")
    )


def upgrade() -> None:
    op.create_table(
        "webhook_inbox",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("received_at", db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.SmallInteger(), nullable=False),
        sa.Column("processed_at", db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_inbox")),
    )
    op.create_index("ix_webhook_inbox_pending", "webhook_inbox", ["status", "received_at"])
    op.create_table(
        "whatsapp_status_events",
        sa.Column("wa_message_id", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("status_at", db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("recipient_id", sa.String(length=140), nullable=True),
        sa.Column("errors", _json(), nullable=True),
        sa.Column("pricing", _json(), nullable=True),
        sa.Column("inbox_id", _ID, nullable=True),
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("tenant_id", _ID, nullable=False),
        sa.Column("created_at", db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_whatsapp_status_events")),
        sa.UniqueConstraint(
            "tenant_id",
            "wa_message_id",
            "status",
            name=op.f("uq_whatsapp_status_events_tenant_id_wa_message_id_status"),
        ),
        sa.UniqueConstraint("tenant_id", "id", name=op.f("uq_whatsapp_status_events_tenant_id_id")),
    )
    op.create_index(
        op.f("ix_whatsapp_status_events_tenant_id"), "whatsapp_status_events", ["tenant_id"]
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE whatsapp_status_events ENABLE ROW LEVEL SECURITY")
        op.execute("ALTER TABLE whatsapp_status_events FORCE ROW LEVEL SECURITY")
        op.execute(
            "CREATE POLICY tenant_isolation ON whatsapp_status_events "
            f"USING {_POLICY} WITH CHECK {_POLICY}"
        )


def downgrade() -> None:
    op.drop_index(op.f("ix_whatsapp_status_events_tenant_id"), table_name="whatsapp_status_events")
    op.drop_table("whatsapp_status_events")
    op.drop_index("ix_webhook_inbox_pending", table_name="webhook_inbox")
    op.drop_table("webhook_inbox")
