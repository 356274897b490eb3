"""Wake the TV signage streams: NOTIFY qlink_queue_events on every queue event INSERT.

PostgreSQL only (SQLite screens poll). The payload ``tenant:branch:id`` is informational; a
listener re-reads the event table in commit-safe order rather than trusting notification order.
NOTIFY is transactional: it is delivered when the inserting transaction commits, never for a
rolled-back one.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

CHANNEL = "qlink_queue_events"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "CREATE OR REPLACE FUNCTION qlink_notify_queue_event() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ BEGIN "
        f"PERFORM pg_notify('{CHANNEL}', "
        "NEW.tenant_id::text || ':' || NEW.branch_id::text || ':' || NEW.id::text); "
        "RETURN NULL; END $$"
    )
    op.execute(
        "CREATE TRIGGER queue_events_notify AFTER INSERT ON queue_events "
        "FOR EACH ROW EXECUTE FUNCTION qlink_notify_queue_event()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS queue_events_notify ON queue_events")
    op.execute("DROP FUNCTION IF EXISTS qlink_notify_queue_event()")
