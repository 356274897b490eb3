"""Tenant filter on every ORM query (SQLAlchemy's ``with_loader_criteria`` recipe)."""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria

from db.base import TenantMixin
from db.engine import ALL_TENANTS


@event.listens_for(Session, "do_orm_execute")
def _add_tenant_criteria(state: ORMExecuteState) -> None:
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
