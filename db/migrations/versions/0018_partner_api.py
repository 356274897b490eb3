"""Partner API keys, allowed origins, idempotent requests, and patient self-service links.

``api_clients`` (tenant-owned): a partner's key for one clinic, only the SHA-256 of its secret at
rest, revocable. ``api_origins``: web origins a clinic allows to call the API from a browser.
``api_requests``: each booking's ``Idempotency-Key`` with its body's hash and the appointment it
made. ``patient_record_links``: a patient's self-service link generation (raising it revokes the
links signed before). PostgreSQL: the row-level security policy of every tenant table (frozen).

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import db.base

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_AT = db.base.UTCDateTime(timezone=True)
_SETTING = "current_setting('app.tenant_id', true)"
_POLICY = f"({_SETTING} = '*' OR tenant_id = NULLIF(NULLIF({_SETTING}, ''), '*')::bigint)"
_TABLES = ("api_clients", "api_origins", "api_requests", "patient_record_links")


def _common(table: str, *, created: bool = True) -> list[sa.SchemaItem]:
    items: list[sa.SchemaItem] = [
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("tenant_id", _ID, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
        sa.UniqueConstraint("tenant_id", "id", name=op.f(f"uq_{table}_tenant_id_id")),
    ]
    if created:
        items.append(sa.Column("created_at", _AT, nullable=False))
    return items


def _fk(table: str, column: str, referred: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id", column],
        [f"{referred}.tenant_id", f"{referred}.id"],
        name=op.f(f"fk_{table}_{column}_{referred}"),
    )


def upgrade() -> None:
    op.create_table(
        "api_clients",
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("revoked_at", _AT, nullable=True),
        *_common("api_clients"),
    )
    op.create_table(
        "api_origins",
        sa.Column("origin", sa.String(length=200), nullable=False),
        *_common("api_origins"),
        sa.UniqueConstraint("tenant_id", "origin", name=op.f("uq_api_origins_tenant_id_origin")),
    )
    op.create_table(
        "api_requests",
        sa.Column("client_id", _ID, nullable=False),
        sa.Column("idempotency_key", sa.String(length=80), nullable=False),
        sa.Column("body_sha256", sa.String(length=64), nullable=False),
        sa.Column("appointment_id", _ID, nullable=False),
        *_common("api_requests"),
        _fk("api_requests", "appointment_id", "appointments"),
        _fk("api_requests", "client_id", "api_clients"),
        sa.UniqueConstraint(
            "tenant_id",
            "client_id",
            "idempotency_key",
            name=op.f("uq_api_requests_tenant_id_client_id_idempotency_key"),
        ),
    )
    op.create_table(
        "patient_record_links",
        sa.Column("patient_id", _ID, nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("updated_at", _AT, nullable=False),
        *_common("patient_record_links", created=False),
        sa.CheckConstraint("generation >= 1", name=op.f("ck_patient_record_links_generation")),
        _fk("patient_record_links", "patient_id", "patients"),
        sa.UniqueConstraint(
            "tenant_id", "patient_id", name=op.f("uq_patient_record_links_tenant_id_patient_id")
        ),
    )
    for table in _TABLES:
        op.create_index(op.f(f"ix_{table}_tenant_id"), table, ["tenant_id"])
    if op.get_bind().dialect.name == "postgresql":
        for table in _TABLES:
            op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
            op.execute(
                f"CREATE POLICY tenant_isolation ON {table} USING {_POLICY} WITH CHECK {_POLICY}"
            )


def downgrade() -> None:
    for table in reversed(_TABLES):
        op.drop_index(op.f(f"ix_{table}_tenant_id"), table_name=table)
        op.drop_table(table)
