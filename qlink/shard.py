"""``qlink db shard-plan``: the DDL that turns QLink's PostgreSQL schema into a Citus one.

Built from the models, so a new table is planned the day it is added. Three kinds of step:

- ``key``: runs on plain PostgreSQL and the application keeps working (a test applies every one
  of them to a copy of the schema): each tenant-owned primary key becomes ``(tenant_id, id)``,
  which Citus requires of a table distributed by ``tenant_id``.
- ``decide``: needs a decision this plan cannot take, printed as commented-out SQL with the
  reason (rows whose tenant is NULL, unique keys without tenant_id).
- ``citus``: needs the Citus extension (reference and distributed tables).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from sqlalchemy import MetaData, Table, UniqueConstraint

from db.base import GLOBAL_TABLES, is_tenant_owned
from qlink.settings import Settings

NULL_TENANT = (
    "platform rows keep tenant_id NULL here; Citus refuses NULL in a distribution column and "
    "a primary key column, so give platform rows a tenant of their own first"
)
GLOBAL_UNIQUE = "Citus requires every unique key of a distributed table to include tenant_id"
REFERENCE_TO_DISTRIBUTED = (
    "a reference table cannot point at a distributed table; core checks the branch of a number"
)
RLS = (
    "row-level security reads app.tenant_id on the worker nodes: db/scoping must set it with "
    "SET LOCAL (set_config() stays on the coordinator), propagated by this setting"
)
TRIGGERS = (
    "queue_events and audit_log keep their append-only triggers; queue_events' NOTIFY fires on "
    "the worker holding the shard, where no signage listener is: wake screens through Redis"
)


@dataclass(frozen=True)
class Step:
    kind: str  # "key" | "decide" | "citus"
    sql: str
    why: str = ""


def shard_plan(metadata: MetaData) -> list[Step]:
    """Return every step, in order, that takes this schema to Citus sharded by tenant."""
    owned = [t for t in metadata.sorted_tables if is_tenant_owned(t)]
    return [
        *(_key_swap(t) for t in owned),
        *_global_uniques(owned),
        Step("citus", "CREATE EXTENSION IF NOT EXISTS citus;"),
        *_references_into_tenants(metadata),
        Step("decide", "ALTER DATABASE qlink SET citus.propagate_set_commands TO 'local';", RLS),
        Step("citus", "SET citus.enable_unsafe_triggers TO on;", TRIGGERS),
        *(
            Step("citus", f"SELECT create_reference_table('{t.name}');")
            for t in metadata.sorted_tables
            if t.name in GLOBAL_TABLES
        ),
        *_distribute(owned),
    ]


def key_steps(metadata: MetaData) -> list[str]:
    """Return the SQL of the steps plain PostgreSQL runs with the application still working."""
    return [step.sql for step in shard_plan(metadata) if step.kind == "key"]


def render(steps: list[Step]) -> str:
    """Return the plan as one SQL script; steps needing a decision stay commented out."""
    lines = [
        "-- QLink on Citus, sharded by tenant_id. Run on the coordinator after `qlink db upgrade`.",
        "-- Steps marked DECIDE need a change first; they are commented out.",
    ]
    for step in steps:
        if step.why:
            lines.append(f"-- {'DECIDE: ' if step.kind == 'decide' else ''}{step.why}")
        lines.append(f"-- {step.sql}" if step.kind == "decide" else step.sql)
    return "\n".join(lines) + "\n"


def _key_swap(table: Table) -> Step:
    pk = table.primary_key.name
    sql = (
        f"ALTER TABLE {table.name} DROP CONSTRAINT {pk}, "
        f"ADD CONSTRAINT {pk} PRIMARY KEY (tenant_id, id);"
    )
    return Step("decide", sql, NULL_TENANT) if table.c.tenant_id.nullable else Step("key", sql)


def _global_uniques(owned: list[Table]) -> list[Step]:
    steps = []
    for table in owned:
        for name, columns in sorted(_uniques(table)):
            if columns[0] != "tenant_id":
                sql = (
                    f"ALTER TABLE {table.name} DROP CONSTRAINT {name}, ADD CONSTRAINT {name} "
                    f"UNIQUE (tenant_id, {', '.join(columns)});"
                )
                steps.append(Step("decide", sql, GLOBAL_UNIQUE))
    return steps


def _uniques(table: Table) -> list[tuple[str, list[str]]]:
    return [
        (str(c.name), [col.name for col in c.columns])
        for c in table.constraints
        if isinstance(c, UniqueConstraint)
    ]


def _references_into_tenants(metadata: MetaData) -> list[Step]:
    return [
        Step("citus", f"ALTER TABLE {t.name} DROP CONSTRAINT {fk.name};", REFERENCE_TO_DISTRIBUTED)
        for t in metadata.sorted_tables
        if t.name in GLOBAL_TABLES
        for fk in sorted(t.foreign_key_constraints, key=lambda fk: str(fk.name))
        if fk.referred_table.name not in GLOBAL_TABLES
    ]


def _distribute(owned: list[Table]) -> list[Step]:
    # Parents first: a foreign key may only point at a table already distributed (or reference).
    # The anchor is the clinic's branches (a stable name: new tables sorting before it must not
    # change every colocate_with); any table with a NOT NULL tenant_id if there is none.
    names = [t.name for t in owned if not t.c.tenant_id.nullable]
    anchor = "branches" if "branches" in names else names[0]
    colocated = f"colocate_with => '{anchor}'"
    first = Step("citus", f"SELECT create_distributed_table('{anchor}', 'tenant_id');")
    return [first] + [
        Step("citus", f"SELECT create_distributed_table('{t.name}', 'tenant_id', {colocated});")
        for t in owned
        if t.name != anchor
    ]


def run(_settings: Settings, _args: argparse.Namespace) -> int:
    """Print the plan (no database needed: it is derived from the models)."""
    import db.models  # noqa: F401  (registers every table)
    from db.base import Base

    print(render(shard_plan(Base.metadata)), end="")
    return 0
