"""BI indexes: the date each report filters on, after the tenant.

The owner's reports (``core.analytics.bi``) read a range of days of one clinic: tokens and
appointments by ``service_date``, payments by ``received_at``, consultations by ``started_at``,
ratings and lab orders by ``created_at``. Without these indexes each report read every row of
the table (a sequential scan of a year of history for 30 days of it). Plain B-tree indexes on
both PostgreSQL and SQLite; no table is rewritten.

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_queue_tokens_day", "queue_tokens", ["tenant_id", "service_date"]),
    ("ix_appointments_date", "appointments", ["tenant_id", "service_date"]),
    ("ix_payments_received", "payments", ["tenant_id", "received_at"]),
    ("ix_consultations_started", "consultations", ["tenant_id", "started_at"]),
    ("ix_ratings_created", "ratings", ["tenant_id", "created_at"]),
    ("ix_lab_orders_created", "lab_orders", ["tenant_id", "created_at"]),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
