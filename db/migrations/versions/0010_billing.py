"""Billing: the clinic's catalogue, a bill per visit (token), free follow-ups.

``billing_catalogue`` (tenant-owned): procedures, tests and medicines with a price in paise, a
tax rate in basis points and a GST-exempt flag. ``bills`` gains ``token_id`` (one bill per
visit, UNIQUE (tenant_id, token_id)) and ``paid_at``; ``bill_items`` gains the catalogue item
it came from and its GST-exempt flag. ``free_followups`` (tenant-owned): one row per free visit
granted against a paid consultation, UNIQUE (tenant_id, source_bill_id, seq) so two desks at
once grant a visit once. Bill and receipt numbers come from ``sequences`` (no new table).

PostgreSQL: the new tenant-owned tables get the same row-level security policy as the others
(the policy text is frozen here). SQLite: ``bills`` and ``bill_items`` are rebuilt by batch mode
(neither carries a trigger).

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import db.base

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_SETTING = "current_setting('app.tenant_id', true)"
_POLICY = f"({_SETTING} = '*' OR tenant_id = NULLIF(NULLIF({_SETTING}, ''), '*')::bigint)"
_NEW_TABLES = ("billing_catalogue", "free_followups")


def _tenant_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("tenant_id", _ID, nullable=False),
        sa.Column("created_at", db.base.UTCDateTime(timezone=True), nullable=False),
    ]


def _ref(table: str, column: str, referred: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id", column],
        [f"{referred}.tenant_id", f"{referred}.id"],
        name=op.f(f"fk_{table}_{column}_{referred}"),
    )


def upgrade() -> None:
    op.create_table(
        "billing_catalogue",
        sa.Column("code", sa.String(length=24), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("unit_price_minor", sa.Integer(), nullable=False),
        sa.Column("tax_rate_bp", sa.Integer(), nullable=False),
        sa.Column("gst_exempt", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        *_tenant_columns(),
        sa.CheckConstraint(
            "kind IN ('procedure','test','medicine','other')",
            name=op.f("ck_billing_catalogue_kind"),
        ),
        sa.CheckConstraint("unit_price_minor >= 0", name=op.f("ck_billing_catalogue_price")),
        sa.CheckConstraint(
            "tax_rate_bp BETWEEN 0 AND 10000", name=op.f("ck_billing_catalogue_tax_rate")
        ),
        sa.CheckConstraint(
            "NOT gst_exempt OR tax_rate_bp = 0", name=op.f("ck_billing_catalogue_exempt_untaxed")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_catalogue")),
        sa.UniqueConstraint("tenant_id", "code", name=op.f("uq_billing_catalogue_tenant_id_code")),
        sa.UniqueConstraint("tenant_id", "id", name=op.f("uq_billing_catalogue_tenant_id_id")),
    )
    op.create_index(op.f("ix_billing_catalogue_tenant_id"), "billing_catalogue", ["tenant_id"])
    with op.batch_alter_table("bills") as batch:
        batch.add_column(sa.Column("token_id", _ID, nullable=True))
        batch.add_column(sa.Column("paid_at", db.base.UTCDateTime(timezone=True), nullable=True))
        batch.create_unique_constraint(
            op.f("uq_bills_tenant_id_token_id"), ["tenant_id", "token_id"]
        )
        batch.create_foreign_key(
            op.f("fk_bills_token_id_queue_tokens"),
            "queue_tokens",
            ["tenant_id", "token_id"],
            ["tenant_id", "id"],
        )
    with op.batch_alter_table("bill_items") as batch:
        batch.add_column(sa.Column("catalogue_item_id", _ID, nullable=True))
        batch.add_column(
            sa.Column("gst_exempt", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch.create_foreign_key(
            op.f("fk_bill_items_catalogue_item_id_billing_catalogue"),
            "billing_catalogue",
            ["tenant_id", "catalogue_item_id"],
            ["tenant_id", "id"],
        )
    op.create_table(
        "free_followups",
        sa.Column("source_bill_id", _ID, nullable=False),
        sa.Column("bill_id", _ID, nullable=False),
        sa.Column("doctor_id", _ID, nullable=False),
        sa.Column("patient_id", _ID, nullable=False),
        sa.Column("seq", sa.SmallInteger(), nullable=False),
        *_tenant_columns(),
        sa.CheckConstraint("seq >= 1", name=op.f("ck_free_followups_seq")),
        _ref("free_followups", "source_bill_id", "bills"),
        _ref("free_followups", "bill_id", "bills"),
        _ref("free_followups", "doctor_id", "doctors"),
        _ref("free_followups", "patient_id", "patients"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_free_followups")),
        sa.UniqueConstraint(
            "tenant_id",
            "source_bill_id",
            "seq",
            name=op.f("uq_free_followups_tenant_id_source_bill_id_seq"),
        ),
        sa.UniqueConstraint(
            "tenant_id", "bill_id", name=op.f("uq_free_followups_tenant_id_bill_id")
        ),
        sa.UniqueConstraint("tenant_id", "id", name=op.f("uq_free_followups_tenant_id_id")),
    )
    op.create_index(op.f("ix_free_followups_tenant_id"), "free_followups", ["tenant_id"])
    if op.get_bind().dialect.name == "postgresql":
        for table in _NEW_TABLES:
            op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
            op.execute(
                f"CREATE POLICY tenant_isolation ON {table} USING {_POLICY} WITH CHECK {_POLICY}"
            )


def downgrade() -> None:
    op.drop_index(op.f("ix_free_followups_tenant_id"), table_name="free_followups")
    op.drop_table("free_followups")
    with op.batch_alter_table("bill_items") as batch:
        batch.drop_constraint(
            op.f("fk_bill_items_catalogue_item_id_billing_catalogue"), type_="foreignkey"
        )
        batch.drop_column("gst_exempt")
        batch.drop_column("catalogue_item_id")
    with op.batch_alter_table("bills") as batch:
        batch.drop_constraint(op.f("fk_bills_token_id_queue_tokens"), type_="foreignkey")
        batch.drop_constraint(op.f("uq_bills_tenant_id_token_id"), type_="unique")
        batch.drop_column("paid_at")
        batch.drop_column("token_id")
    op.drop_index(op.f("ix_billing_catalogue_tenant_id"), table_name="billing_catalogue")
    op.drop_table("billing_catalogue")
