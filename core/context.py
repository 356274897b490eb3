"""Who is acting, for which tenant, and the session scope check every service starts with."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy.orm import Session

from core.clock import Clock, system_clock
from core.errors import NotFound, PermissionDenied
from db.base import TenantMixin
from db.engine import scope_session, set_rls_scope

PLATFORM = "*"


@dataclass(frozen=True)
class Actor:
    """An authenticated staff user (or the system) acting inside one tenant."""

    user_id: int | None
    tenant_id: int | None
    role: str
    label: str
    doctor_id: int | None = None
    branch_id: int | None = None
    clock: Clock = field(default=system_clock, compare=False, repr=False)

    @classmethod
    def system(cls, tenant_id: int | None, *, clock: Clock = system_clock) -> Actor:
        """The actor for seeds, workers and migrations (all permissions, audited as 'system')."""
        return cls(None, tenant_id, "system", "system", clock=clock)

    def require_tenant(self) -> int:
        if self.tenant_id is None:
            raise PermissionDenied("This action needs a clinic context")
        return self.tenant_id


def tenant_of(session: Session, actor: Actor) -> int:
    """Return the actor's tenant after checking the session is scoped to it."""
    tenant = actor.require_tenant()
    scope = session.info.get("tenant_id")
    if scope is None:
        scope_session(session, tenant)
        set_rls_scope(session, session.connection())
    elif scope != PLATFORM and str(scope) != str(tenant):
        raise PermissionDenied("Session is scoped to another clinic")
    return tenant


RowT = TypeVar("RowT", bound=TenantMixin)


def load_owned(session: Session, actor: Actor, model: type[RowT], row_id: int, what: str) -> RowT:
    """Fetch a row of the actor's clinic by id, or raise ``NotFound`` (also for other clinics)."""
    tenant_id = tenant_of(session, actor)
    row = session.get(model, row_id)
    if row is None or row.tenant_id != tenant_id:
        raise NotFound(f"{what} not found")
    return row
