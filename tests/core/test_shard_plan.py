"""The path to Citus: the plan covers every table, its key steps run on plain PostgreSQL with the
application still working, and every hot-path statement of a simulated day filters by tenant_id
(what lets Citus route it to one clinic's shard)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlglot
from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.exc import OperationalError
from sqlglot import exp

import db.models  # noqa: F401  (registers every table)
from db.base import GLOBAL_TABLES, Base, is_tenant_owned
from db.engine import Database, make_engine
from db.migrate import upgrade
from qlink import cli
from qlink.shard import key_steps, shard_plan
from qlink.simulation import Scenario, simulate
from tests import conftest

SMALL_DAY = Scenario(tokens=60, doctors=2, departments=2, seed=11, issuers=2)
INVARIANTS = ("duplicates", "gaps", "lost", "double_called", "cross_tenant_leaks")
OWNED = {t.name for t in Base.metadata.sorted_tables if is_tenant_owned(t)}
# The clinic set-up, not the day: the ORM's unit of work writes a changed object by primary key.
SET_UP = ("UPDATE doctors SET performance_weight=",)


def test_plan_makes_global_tables_reference_and_the_rest_colocated_by_tenant():
    sql = [step.sql for step in shard_plan(Base.metadata) if step.kind == "citus"]
    reference = {m for s in sql for m in re.findall(r"create_reference_table\('(\w+)'\)", s)}
    distributed = [m for s in sql for m in re.findall(r"create_distributed_table\('(\w+)'", s)]
    assert reference == GLOBAL_TABLES
    assert sorted(distributed) == sorted(OWNED)
    assert sum("colocate_with => 'branches'" in s for s in sql) == len(OWNED) - 1
    # a foreign key may only point at a table distributed before it
    order = {name: i for i, name in enumerate(distributed)}
    for table in Base.metadata.sorted_tables:
        for fk in table.foreign_key_constraints:
            if table.name in OWNED and fk.referred_table.name in OWNED:
                assert order[fk.referred_table.name] <= order[table.name], fk.name


def test_cli_prints_the_plan(tmp_path: Path, monkeypatch, capsys):
    monkeypatch.setenv("QLINK_VAR_DIR", str(tmp_path / "var"))
    assert cli.main(["db", "shard-plan"]) == 0
    out = capsys.readouterr().out
    assert "SELECT create_distributed_table('queue_tokens', 'tenant_id'" in out
    assert "PRIMARY KEY (tenant_id, id);" in out


@pytest.fixture
def schema_copy() -> Iterator[Database]:
    """A fresh PostgreSQL database migrated to head (the plan is applied to it, not to ours)."""
    admin = create_engine(conftest.PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"qlink_shard_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        admin.dispose()
        conftest._unavailable(f"PostgreSQL not reachable: {exc.orig}")
    conftest._ran.add("postgresql")
    database = Database(make_engine(conftest.PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"))
    try:
        upgrade(database.engine)
        yield database
    finally:
        database.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_key_steps_run_on_plain_postgres_and_a_clinic_day_still_works(schema_copy):
    with schema_copy.engine.begin() as conn:
        for sql in key_steps(Base.metadata):
            conn.exec_driver_sql(sql)
    insp = inspect(schema_copy.engine)
    pk = insp.get_pk_constraint("queue_tokens")["constrained_columns"]
    assert pk == ["tenant_id", "id"]

    summary = simulate(schema_copy, SMALL_DAY)

    assert summary["tokens_issued"] == SMALL_DAY.tokens
    assert {name: summary[name] for name in INVARIANTS} == dict.fromkeys(INVARIANTS, 0)
    assert summary["errors"] == {}


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_every_statement_of_a_clinic_day_on_tenant_tables_filters_by_tenant(db):
    statements: list[str] = []

    def capture(_conn, _cursor, statement, _params, _context, _many) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        summary = simulate(db, SMALL_DAY)
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)

    assert summary["tokens_issued"] == SMALL_DAY.tokens
    checked = [s for s in statements if _reads_or_changes(s) and not s.startswith(SET_UP)]
    assert len(checked) > 1000  # the day really ran through here
    assert sorted({_shape(s) for s in checked if not _filters_by_tenant(s, db.dialect)}) == []


def _reads_or_changes(sql: str) -> bool:
    return sql.lstrip().split(None, 1)[0].upper() in ("SELECT", "UPDATE", "DELETE", "WITH")


def _shape(sql: str) -> str:
    return " ".join(sql.split())[:400]


def _filters_by_tenant(sql: str, dialect: str) -> bool:
    """Tell whether every tenant-owned table the statement reads or changes has a tenant_id test.

    The test must sit in the WHERE or a JOIN's ON of the table's own SELECT/UPDATE/DELETE. An
    INSERT's target (e.g. in a data-modifying CTE) is written, not read: like a plain INSERT, it
    is routed by the tenant_id value it inserts.
    """
    literal = re.sub(r"%\(\w+\)s|\?", "0", sql).replace("%%", "%")
    tree = sqlglot.parse_one(literal, read="postgres" if dialect == "postgresql" else "sqlite")
    return all(_filtered(table) for table in tree.find_all(exp.Table) if table.name in OWNED)


def _filtered(table: exp.Table) -> bool:
    if _insert_target(table):
        return True
    scope = table.find_ancestor(exp.Select, exp.Update, exp.Delete)
    if scope is None:
        return False
    names = {table.name, table.alias_or_name}
    conditions = [scope.args.get("where")]
    conditions += [join.args.get("on") for join in scope.args.get("joins") or []]
    return any(
        column.name == "tenant_id"
        and column.table in names | {""}
        and column.find_ancestor(exp.Select, exp.Update, exp.Delete) is scope
        for condition in conditions
        if condition is not None
        for column in condition.find_all(exp.Column)
    )


def _insert_target(table: exp.Table) -> bool:
    target = table.parent if isinstance(table.parent, exp.Schema) else table
    return isinstance(target.parent, exp.Insert) and target.arg_key == "this"
