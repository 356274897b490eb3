"""Web booking: one-time codes, doctors' calendar feeds, and booking requests staff answer.

``web_booking_codes`` (tenant-owned): a WhatsApp one-time code per phone, only hashes at rest
(the phone's lookup hash, a salted SHA-256 of the code, and of the ticket a verified code gives).
``calendar_feeds`` (tenant-owned): one ICS feed URL per doctor and the busy blocks last read from
it (UTC pairs). ``booking_requests`` gains the patient's age, the patient it became, the staff's
counter-proposal and when it was handled. PostgreSQL: the row-level security policy of every
tenant table (frozen text).

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import db.base

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_SETTING = "current_setting('app.tenant_id', true)"
_POLICY = f"({_SETTING} = '*' OR tenant_id = NULLIF(NULLIF({_SETTING}, ''), '*')::bigint)"
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_AT = db.base.UTCDateTime(timezone=True)


def _common(table: str) -> list[sa.SchemaItem]:
    return [
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("tenant_id", _ID, nullable=False),
        sa.Column("created_at", _AT, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
        sa.UniqueConstraint("tenant_id", "id", name=op.f(f"uq_{table}_tenant_id_id")),
    ]


def upgrade() -> None:
    t = "web_booking_codes"
    op.create_table(
        t,
        sa.Column("phone_hash", sa.String(length=64), nullable=False),
        sa.Column("salt", sa.String(length=32), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", _AT, nullable=False),
        sa.Column("attempts", sa.SmallInteger(), nullable=False),
        sa.Column("verified_at", _AT, nullable=True),
        sa.Column("ticket_hash", sa.String(length=64), nullable=True),
        sa.Column("used_at", _AT, nullable=True),
        *_common(t),
    )
    op.create_index(op.f(f"ix_{t}_tenant_id"), t, ["tenant_id"])
    op.create_index("ix_web_booking_codes_phone", t, ["tenant_id", "phone_hash", "created_at"])
    t = "calendar_feeds"
    op.create_table(
        t,
        sa.Column("doctor_id", _ID, nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("busy", _JSON, nullable=False),
        sa.Column("fetched_at", _AT, nullable=True),
        sa.Column("last_error", sa.String(length=300), nullable=True),
        *_common(t),
        sa.ForeignKeyConstraint(
            ["tenant_id", "doctor_id"],
            ["doctors.tenant_id", "doctors.id"],
            name=op.f("fk_calendar_feeds_doctor_id_doctors"),
        ),
        sa.UniqueConstraint(
            "tenant_id", "doctor_id", name=op.f("uq_calendar_feeds_tenant_id_doctor_id")
        ),
    )
    op.create_index(op.f(f"ix_{t}_tenant_id"), t, ["tenant_id"])
    with op.batch_alter_table("booking_requests") as batch:
        batch.add_column(sa.Column("age_years", sa.SmallInteger(), nullable=True))
        batch.add_column(sa.Column("patient_id", _ID, nullable=True))
        batch.add_column(sa.Column("proposed_start", _AT, nullable=True))
        batch.add_column(sa.Column("staff_note", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("handled_at", _AT, nullable=True))
        batch.create_foreign_key(
            op.f("fk_booking_requests_patient_id_patients"),
            "patients",
            ["tenant_id", "patient_id"],
            ["tenant_id", "id"],
        )
    if op.get_bind().dialect.name == "postgresql":
        for table in ("web_booking_codes", "calendar_feeds"):
            op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
            op.execute(
                f"CREATE POLICY tenant_isolation ON {table} USING {_POLICY} WITH CHECK {_POLICY}"
            )


def downgrade() -> None:
    with op.batch_alter_table("booking_requests") as batch:
        batch.drop_constraint(op.f("fk_booking_requests_patient_id_patients"), type_="foreignkey")
        for column in ("handled_at", "staff_note", "proposed_start", "patient_id", "age_years"):
            batch.drop_column(column)
    op.drop_table("calendar_feeds")
    op.drop_table("web_booking_codes")
