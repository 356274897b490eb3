"""Tenant scoping installed on the session factories a ``Database`` builds.

Two walls, both installed by :func:`install_scoping` (never by importing a module):

- a tenant filter on every ORM query (SQLAlchemy's ``with_loader_criteria`` recipe);
- on PostgreSQL, ``app.tenant_id`` set at the start of each transaction for row-level security.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker, with_loader_criteria

from db.base import TenantMixin

ALL_TENANTS = "*"  # tenant scope for platform work (login, routing, seeding); RLS allows it


def scope_session(session: Session, tenant_id: int | str | None) -> None:
    """Record the tenant scope; the ORM filter and PostgreSQL RLS both read it."""
    session.info["tenant_id"] = tenant_id


def set_rls_scope(session: Session, connection: Any) -> None:
    """Hand the session's tenant scope to PostgreSQL row-level security for this transaction."""
    tenant = session.info.get("tenant_id")
    if connection.dialect.name == "postgresql":
        value = "" if tenant is None else str(tenant)
        connection.exec_driver_sql("SELECT set_config('app.tenant_id', %(v)s, true)", {"v": value})


def install_scoping(factory: sessionmaker[Session]) -> None:
    """Make every session of ``factory`` filter by its tenant scope (idempotent)."""
    for name, listener in (("do_orm_execute", _tenant_criteria), ("after_begin", _after_begin)):
        if not event.contains(factory, name, listener):
            event.listen(factory, name, listener)


def _tenant_criteria(state: ORMExecuteState) -> None:
    tenant = state.session.info.get("tenant_id")
    if tenant is None or tenant == ALL_TENANTS:
        return
    if state.is_column_load or state.is_relationship_load:
        return
    if not (state.is_select or state.is_update or state.is_delete):
        return
    tid = int(tenant)
    state.statement = state.statement.options(
        with_loader_criteria(TenantMixin, lambda cls: cls.tenant_id == tid, include_aliases=True)
    )


def _after_begin(session: Session, transaction: Any, connection: Any) -> None:
    if transaction.nested:  # a SAVEPOINT inherits the outer transaction's setting
        return
    set_rls_scope(session, connection)
