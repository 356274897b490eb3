"""The owner's configuration reads and edits beyond ``core.tenancy``: branches, departments,
queue knobs as the form shows them, and the message retention period."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit
from core.auth.permissions import require
from core.context import Actor, tenant_of
from core.errors import NotFound, ValidationFailed
from core.messaging import retention
from core.queue.scoring import QueueRules, rules_from
from core.tenancy import access_branch, access_department, is_queue_key, set_queue_settings
from db.models import Branch, Department, Tenant

MAX_RETENTION_DAYS = 3650


@dataclass(frozen=True)
class DepartmentRow:
    id: int
    branch_id: int
    code: str
    name: str
    allocation_strategy: str
    active: bool


@dataclass(frozen=True)
class BranchRow:
    id: int
    slug: str
    name: str
    address: str | None
    active: bool
    departments: tuple[DepartmentRow, ...]


def clinic_structure(session: Session, actor: Actor) -> list[BranchRow]:
    """Return every branch of the clinic with its departments (inactive ones too)."""
    require(actor, "settings.write")
    tenant_id = tenant_of(session, actor)
    depts = session.scalars(
        select(Department).where(Department.tenant_id == tenant_id).order_by(Department.code)
    ).all()
    branches = session.scalars(
        select(Branch).where(Branch.tenant_id == tenant_id).order_by(Branch.name)
    ).all()
    return [
        BranchRow(
            b.id,
            b.slug,
            b.name,
            b.address,
            b.active,
            tuple(
                DepartmentRow(d.id, d.branch_id, d.code, d.name, d.allocation_strategy, d.active)
                for d in depts
                if d.branch_id == b.id
            ),
        )
        for b in branches
    ]


def edit_branch(
    session: Session,
    actor: Actor,
    *,
    branch_id: int,
    name: str,
    address: str | None = None,
    active: bool = True,
) -> Branch:
    """Rename a branch, change its address, or close it (inactive)."""
    require(actor, "settings.write")
    branch = access_branch(session, actor, branch_id)
    branch.name = _required(name, "name")
    branch.address = (address or "").strip() or None
    branch.active = active
    session.flush()
    audit.record(
        session,
        actor,
        "branch.edit",
        entity="branch",
        entity_id=branch.id,
        detail={"active": active},
    )
    return branch


def edit_department(
    session: Session, actor: Actor, *, department_id: int, name: str, active: bool = True
) -> Department:
    """Rename a department or close it (its token prefix stays, numbers are per day)."""
    require(actor, "settings.write")
    dept = access_department(session, actor, department_id)
    dept.name = _required(name, "name")
    dept.active = active
    session.flush()
    audit.record(
        session,
        actor,
        "department.edit",
        entity="department",
        entity_id=dept.id,
        detail={"active": active},
    )
    return dept


def queue_rules(session: Session, actor: Actor) -> QueueRules:
    """Return the clinic's queue knobs as the queue applies them (defaults filled in)."""
    require(actor, "settings.write")
    return rules_from(_tenant(session, actor).settings or {})


def update_queue_settings(session: Session, actor: Actor, *, changes: Mapping[str, Any]) -> None:
    """Change some of the clinic's queue knobs, keeping the others (``set_queue_settings``
    replaces them all); priority weights merge per kind."""
    require(actor, "settings.write")
    current = {k: v for k, v in (_tenant(session, actor).settings or {}).items() if is_queue_key(k)}
    merged = {**current, **changes}
    if "priority_weights" in changes and isinstance(current.get("priority_weights"), Mapping):
        merged["priority_weights"] = {**current["priority_weights"], **changes["priority_weights"]}
    set_queue_settings(session, actor, settings=merged)


def retention_days(session: Session, actor: Actor) -> int:
    """Return the days message bodies are kept before the purge."""
    require(actor, "settings.write")
    return retention.retention_days(_tenant(session, actor).settings)


def set_retention_days(session: Session, actor: Actor, *, days: int) -> None:
    """Set how many days message bodies are kept (aggregate counts stay for ever)."""
    require(actor, "settings.write")
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_RETENTION_DAYS:
        raise ValidationFailed(f"Retention is 1-{MAX_RETENTION_DAYS} days", field=retention.SETTING)
    tenant = _tenant(session, actor)
    settings: dict[str, Any] = dict(tenant.settings or {})
    before = settings.get(retention.SETTING)
    tenant.settings = {**settings, retention.SETTING: days}
    session.flush()
    audit.record(
        session,
        actor,
        "retention.set",
        entity="tenant",
        entity_id=tenant.id,
        detail={"days": days, "before": before},
    )


def _tenant(session: Session, actor: Actor) -> Tenant:
    tenant = session.get(Tenant, tenant_of(session, actor))
    if tenant is None:
        raise NotFound("Clinic not found")
    return tenant


def _required(value: str, field: str) -> str:
    value = (value or "").strip()
    if not value:
        raise ValidationFailed(f"{field.capitalize()} is required", field=field)
    return value
