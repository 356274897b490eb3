"""Stored documents: the bytes of a generated PDF (receipt, bill, prescription, slip, report).

``documents`` (since 0001) describes a patient's file: kind, filename, content type, size,
SHA-256. ``document_contents`` (tenant-owned) holds the bytes of a document QLink stores in its
own database (``storage_key`` ``db:<uuid>``), one row per document, kept apart so a list of
documents never reads the files. The WhatsApp relay uploads these bytes to Meta's media
endpoint when it sends the document.

PostgreSQL: the new tenant-owned table gets the same row-level security policy as the others
(the policy text is frozen here).

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import db.base

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_SETTING = "current_setting('app.tenant_id', true)"
_POLICY = f"({_SETTING} = '*' OR tenant_id = NULLIF(NULLIF({_SETTING}, ''), '*')::bigint)"


def upgrade() -> None:
    op.create_table(
        "document_contents",
        sa.Column("document_id", _ID, nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("tenant_id", _ID, nullable=False),
        sa.Column("created_at", db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "document_id"],
            ["documents.tenant_id", "documents.id"],
            name=op.f("fk_document_contents_document_id_documents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_document_contents")),
        sa.UniqueConstraint(
            "tenant_id", "document_id", name=op.f("uq_document_contents_tenant_id_document_id")
        ),
        sa.UniqueConstraint("tenant_id", "id", name=op.f("uq_document_contents_tenant_id_id")),
    )
    op.create_index(op.f("ix_document_contents_tenant_id"), "document_contents", ["tenant_id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE document_contents ENABLE ROW LEVEL SECURITY")
        op.execute("ALTER TABLE document_contents FORCE ROW LEVEL SECURITY")
        op.execute(
            "CREATE POLICY tenant_isolation ON document_contents "
            f"USING {_POLICY} WITH CHECK {_POLICY}"
        )


def downgrade() -> None:
    op.drop_index(op.f("ix_document_contents_tenant_id"), table_name="document_contents")
    op.drop_table("document_contents")
