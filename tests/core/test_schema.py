"""The migrated schema matches the models and is guarded as designed."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from db.base import Base
from db.migrate import include_object, pending, upgrade


def test_migrations_are_idempotent_and_current(db):
    upgrade(db.engine)
    upgrade(db.engine)
    assert not pending(db.engine)


def test_models_and_migrations_agree(db):
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": include_object})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_every_unique_constraint_on_tenant_data_starts_with_tenant_id(db):
    insp = inspect(db.engine)
    offenders = []
    for table in insp.get_table_names():
        columns = {c["name"] for c in insp.get_columns(table)}
        if "tenant_id" not in columns:
            continue
        uniques = [u["column_names"] for u in insp.get_unique_constraints(table)]
        uniques += [i["column_names"] for i in insp.get_indexes(table) if i["unique"]]
        offenders += {(table, tuple(cols)) for cols in uniques if cols[0] != "tenant_id"}
    # Global by design: a bearer-token lookup before any tenant is known, and the audit chain
    # whose key already encodes the tenant ("t:<id>").
    allowed = [("audit_log", ("chain", "seq")), ("user_sessions", ("token_hash",))]
    assert sorted(offenders) == allowed


def test_sqlite_runs_in_wal_with_foreign_keys(db):
    if db.dialect != "sqlite":
        return
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
