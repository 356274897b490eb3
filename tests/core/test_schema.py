"""The migrated schema matches the models and is guarded as designed."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Inspector

from db.base import GLOBAL_TABLES, Base
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


def _tenant_owned(insp: Inspector) -> list[str]:
    return [
        table
        for table in insp.get_table_names()
        if table not in GLOBAL_TABLES
        and "tenant_id" in {c["name"] for c in insp.get_columns(table)}
    ]


def _uniques(insp: Inspector, table: str) -> set[tuple[str, ...]]:
    uniques = {tuple(u["column_names"]) for u in insp.get_unique_constraints(table)}
    return uniques | {tuple(i["column_names"]) for i in insp.get_indexes(table) if i["unique"]}


def test_every_table_is_tenant_owned_or_named_global(db):
    insp = inspect(db.engine)
    unclassified = set(insp.get_table_names()) - set(_tenant_owned(insp)) - {"alembic_version"}
    # A new table without tenant_id must be named in GLOBAL_TABLES (or given a tenant).
    assert unclassified == GLOBAL_TABLES


def test_every_tenant_owned_table_is_unique_on_tenant_and_id(db):
    insp = inspect(db.engine)
    missing = [t for t in _tenant_owned(insp) if ("tenant_id", "id") not in _uniques(insp, t)]
    assert missing == []


def test_every_reference_to_tenant_data_is_composite(db):
    insp = inspect(db.engine)
    owned = set(_tenant_owned(insp))
    single = []
    for table in insp.get_table_names():
        for fk in insp.get_foreign_keys(table):
            if fk["referred_table"] not in owned:
                continue
            local, remote = fk["constrained_columns"], fk["referred_columns"]
            if local[0] != "tenant_id" or len(local) != 2 or remote != ["tenant_id", "id"]:
                single.append((table, tuple(local)))
    assert single == []


def test_every_unique_constraint_on_tenant_data_starts_with_tenant_id(db):
    insp = inspect(db.engine)
    offenders = sorted(
        (table, cols)
        for table in _tenant_owned(insp)
        for cols in _uniques(insp, table)
        if cols[0] != "tenant_id"
    )
    # Global by design: a bearer-token lookup before any tenant is known, and the audit chain
    # whose key already encodes the tenant ("t:<id>").
    allowed = [("audit_log", ("chain", "seq")), ("user_sessions", ("token_hash",))]
    assert offenders == allowed


def test_sqlite_runs_in_wal_with_foreign_keys(db):
    if db.dialect != "sqlite":
        return
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
