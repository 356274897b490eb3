"""Migration 0006 carries a used database over with every row intact and every guard in place.

A fresh database is migrated to 0005, a small simulated day is played on it, then it is
upgraded: row counts and a checksum of every key column are equal before and after, the columns,
indexes, CHECK constraints, triggers and RLS policies are the same (plus what 0006 adds), and the
append-only triggers still refuse an edit. The full demo and a 3,000-token day were checked by
hand the same way (see the closing note of issue 9).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, create_engine, inspect, text
from sqlalchemy.exc import DBAPIError, OperationalError

from db.base import Base
from db.engine import Database, make_engine
from db.migrate import upgrade
from qlink.simulation import Scenario, simulate
from tests import conftest

SMALL_DAY = Scenario(tokens=60, doctors=2, departments=2, seed=5, issuers=2)


@pytest.fixture(params=conftest.BACKENDS)
def at_0005(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A database at revision 0005 holding a small simulated day."""
    with _fresh_url(request.param, tmp_path) as url:
        conftest._ran.add(request.param)
        database = Database(make_engine(url))
        try:
            upgrade(database.engine, "0005")
            with _later_queue_columns(database.engine):
                simulate(database, SMALL_DAY)
            yield database
        finally:
            database.dispose()


# Today's queue code reads and writes a few things later migrations add (0016, 0024, 0026);
# the day is played with them in place and they are removed before 0006 runs, so the database is
# at 0005.
_LATER_QUEUE_COLUMNS = ("issued_wait_minutes", "issued_spread_minutes")


@contextmanager
def _later_queue_columns(engine: Engine) -> Iterator[None]:
    with engine.begin() as conn:
        for column in _LATER_QUEUE_COLUMNS:
            conn.execute(text(f"ALTER TABLE queue_tokens ADD COLUMN {column} FLOAT"))
        stamp = "TIMESTAMPTZ" if engine.dialect.name == "postgresql" else "TIMESTAMP"
        conn.execute(text(f"ALTER TABLE queue_tokens ADD COLUMN first_called_at {stamp}"))
        conn.execute(
            text(
                "CREATE TABLE queue_projections (tenant_id BIGINT, department_id BIGINT, "
                "eta_bias FLOAT, eta_early FLOAT, eta_late FLOAT, line_tails TEXT)"
            )
        )
    yield
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE queue_projections"))
        conn.execute(text("ALTER TABLE queue_tokens DROP COLUMN first_called_at"))
        for column in _LATER_QUEUE_COLUMNS:
            conn.execute(text(f"ALTER TABLE queue_tokens DROP COLUMN {column}"))


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_upgrade_keeps_every_row_and_every_guard(at_0005):
    engine = at_0005.engine
    rows_before, walls_before = key_checksums(engine), _walls(engine)
    assert rows_before["queue_tokens"][0] == SMALL_DAY.tokens

    upgrade(engine, "0006")  # the migration under test; later ones add tables of their own

    assert _revision(engine) == "0006"
    assert key_checksums(engine) == rows_before
    walls_after = _walls(engine)
    assert walls_after["checks"] - walls_before["checks"] == {"ck_users_platform_unlinked"}
    for wall in ("columns", "indexes", "triggers", "policies"):
        assert walls_after[wall] == walls_before[wall], wall
    _assert_append_only(engine)


def _revision(engine: Engine) -> str:
    with engine.connect() as conn:
        return str(conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar_one())


def key_checksums(engine: Engine) -> dict[str, tuple[int, str]]:
    """Return each table's row count and a digest of its key columns (ids and references)."""
    result = {}
    insp = inspect(engine)
    # the schema at this revision: later migrations add key columns (0017's patient_id)
    present = {t: {c["name"] for c in insp.get_columns(t)} for t in insp.get_table_names()}
    with engine.connect() as conn:
        _see_every_clinic(conn)
        for table in (t for t in Base.metadata.sorted_tables if t.name in present):
            here = present[table.name]
            keys = [
                c.name
                for c in table.columns
                if (c.primary_key or c.name.endswith("_id")) and c.name in here
            ]
            order = ", ".join(c.name for c in table.primary_key.columns)
            rows = conn.exec_driver_sql(
                f"SELECT {', '.join(keys)} FROM {table.name} ORDER BY {order}"
            ).all()
            digest = hashlib.sha256(repr([tuple(r) for r in rows]).encode()).hexdigest()
            result[table.name] = (len(rows), digest)
    return result


def _walls(engine: Engine) -> dict[str, set[Any]]:
    insp = inspect(engine)
    tables = insp.get_table_names()
    walls: dict[str, set[Any]] = {
        "columns": {
            (t, c["name"], str(c["type"]), c["nullable"])
            for t in tables
            for c in insp.get_columns(t)
        },
        "indexes": {
            (t, i["name"], tuple(i["column_names"]), i["unique"], _options(i))
            for t in tables
            for i in insp.get_indexes(t)
            if "duplicates_constraint" not in i  # PostgreSQL's index behind a UNIQUE
        },
        "checks": {c["name"] for t in tables for c in insp.get_check_constraints(t)},
    }
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            walls["triggers"] = set(
                conn.exec_driver_sql(
                    "SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'trigger'"
                )
            )
            walls["indexes"] |= set(
                conn.exec_driver_sql(
                    "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
                )
            )
            walls["policies"] = set()
        else:
            walls["triggers"] = set(
                conn.exec_driver_sql(
                    "SELECT tgname, tgrelid::regclass::text, tgfoid::regproc::text FROM pg_trigger"
                    " WHERE NOT tgisinternal"
                )
            )
            walls["policies"] = set(
                conn.exec_driver_sql(
                    "SELECT p.tablename, p.policyname, p.qual, p.with_check, c.relrowsecurity,"
                    " c.relforcerowsecurity FROM pg_policies p"
                    " JOIN pg_class c ON c.relname = p.tablename"
                )
            )
    return walls


def _options(index: Any) -> str:
    return repr(sorted((k, str(v)) for k, v in index.get("dialect_options", {}).items()))


def _assert_append_only(engine: Engine) -> None:
    with engine.connect() as conn:
        _see_every_clinic(conn)
        with pytest.raises(DBAPIError, match="append-only"):
            conn.execute(text("DELETE FROM queue_events"))


def _see_every_clinic(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SELECT set_config('app.tenant_id', '*', false)")


@contextmanager
def _fresh_url(backend: str, tmp: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp / 'migrate.db'}"
        return
    admin = create_engine(conftest.PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"qlink_mig_{uuid.uuid4().hex[:10]}"
    try:
        try:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        except OperationalError as exc:
            conftest._unavailable(f"PostgreSQL not reachable: {exc.orig}")
        try:
            yield conftest.PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()
