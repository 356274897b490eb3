"""Database-side walls: row-level security per tenant and append-only triggers.

Kept as plain functions so later migrations can re-run them for new tables.
"""

from __future__ import annotations

from sqlalchemy import inspect
from sqlalchemy.engine import Connection

import db.models  # noqa: F401
from db.base import Base, TenantMixin

APPEND_ONLY = ("audit_log", "queue_events")

# The app sets app.tenant_id per transaction; '*' is the explicit platform scope.
_SETTING = "current_setting('app.tenant_id', true)"
_POLICY = f"({_SETTING} = '*' OR tenant_id = NULLIF(NULLIF({_SETTING}, ''), '*')::bigint)"


def tenant_tables(conn: Connection | None = None) -> list[str]:
    """Tenant tables of the current models; with ``conn``, only those already in the database.

    A migration that runs the guards (0001) sees the models of today, whose newer tables are
    created, with their own policy, by their own later migration.
    """
    scoped = [
        m.local_table.name for m in Base.registry.mappers if issubclass(m.class_, TenantMixin)
    ]
    tables = sorted({*scoped, "audit_log", "user_sessions", "users"})
    if conn is None:
        return tables
    existing = set(inspect(conn).get_table_names())
    return [table for table in tables if table in existing]


def install_guards(conn: Connection) -> None:
    """Create RLS policies (PostgreSQL) and append-only triggers (both dialects)."""
    if conn.dialect.name == "postgresql":
        _install_postgres(conn)
    else:
        _install_sqlite(conn)


def remove_guards(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        for table in tenant_tables(conn):
            conn.exec_driver_sql(f"DROP POLICY IF EXISTS tenant_isolation ON {table}")
        for table in APPEND_ONLY:
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        conn.exec_driver_sql("DROP FUNCTION IF EXISTS qlink_append_only()")
    else:
        for table in APPEND_ONLY:
            for op in ("update", "delete"):
                conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {table}_no_{op}")


def _install_postgres(conn: Connection) -> None:
    for table in tenant_tables(conn):
        # Rows with a NULL tenant (platform admins, platform audit) are visible only under '*'.
        conn.exec_driver_sql(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        conn.exec_driver_sql(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        conn.exec_driver_sql(
            f"CREATE POLICY tenant_isolation ON {table} USING {_POLICY} WITH CHECK {_POLICY}"
        )
    conn.exec_driver_sql(
        "CREATE OR REPLACE FUNCTION qlink_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN RAISE EXCEPTION '%% is append-only', TG_TABLE_NAME; END $$"
    )
    for table in APPEND_ONLY:
        conn.exec_driver_sql(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION qlink_append_only()"
        )


def _install_sqlite(conn: Connection) -> None:
    for table in APPEND_ONLY:
        for op in ("update", "delete"):
            conn.exec_driver_sql(
                f"CREATE TRIGGER IF NOT EXISTS {table}_no_{op} BEFORE {op.upper()} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            )
