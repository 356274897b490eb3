"""Tenants, branches, departments and WhatsApp number routing."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit
from core.auth.permissions import require
from core.context import Actor, load_owned, tenant_of
from core.errors import Conflict, NotFound, ValidationFailed
from core.queue.allocation import STRATEGIES
from core.queue.scoring import DEFAULT_WEIGHTS, QueueRules, rules_from
from db.models import Branch, Department, Tenant, WhatsAppNumber

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,38}$")
_DEPT_CODE = re.compile(r"^[A-Z]{2,6}$")
_QUEUE_KNOBS = frozenset(f.name for f in dataclasses.fields(QueueRules)) - {"weights"}


def create_tenant(
    session: Session,
    actor: Actor,
    *,
    slug: str,
    name: str,
    timezone: str = "Asia/Kolkata",
    settings: dict[str, Any] | None = None,
) -> Tenant:
    """Create a clinic (platform action)."""
    require(actor, "tenant.manage")
    _check_slug(slug)
    _check_timezone(timezone)
    if session.scalar(select(Tenant.id).where(Tenant.slug == slug)):
        raise Conflict(f"A clinic with slug {slug!r} already exists")
    tenant = Tenant(
        slug=slug, name=_required(name, "name"), timezone=timezone, settings=settings or {}
    )
    session.add(tenant)
    session.flush()
    audit.record(session, actor, "tenant.create", entity="tenant", entity_id=tenant.id)
    return tenant


def create_branch(
    session: Session,
    actor: Actor,
    *,
    slug: str,
    name: str,
    address: str | None = None,
    timezone: str | None = None,
    signage_language: str = "en-IN",
) -> Branch:
    """Add a branch to the actor's clinic."""
    require(actor, "settings.write")
    tenant_id = tenant_of(session, actor)
    _check_slug(slug)
    if timezone:
        _check_timezone(timezone)
    exists = select(Branch.id).where(Branch.tenant_id == tenant_id, Branch.slug == slug)
    if session.scalar(exists):
        raise Conflict(f"Branch {slug!r} already exists")
    branch = Branch(
        tenant_id=tenant_id,
        slug=slug,
        name=_required(name, "name"),
        address=address,
        timezone=timezone,
        signage_language=signage_language,
    )
    session.add(branch)
    session.flush()
    audit.record(session, actor, "branch.create", entity="branch", entity_id=branch.id)
    return branch


def create_department(
    session: Session,
    actor: Actor,
    *,
    branch_id: int,
    code: str,
    name: str,
    allocation_strategy: str = "shortest_wait",
) -> Department:
    """Add a department (its code prefixes token numbers, e.g. ORT-014)."""
    require(actor, "settings.write")
    tenant_id = tenant_of(session, actor)
    access_branch(session, actor, branch_id)
    code = code.strip().upper()
    if not _DEPT_CODE.match(code):
        raise ValidationFailed("Department code must be 2-6 letters, e.g. ORT", field="code")
    taken = select(Department.id).where(
        Department.tenant_id == tenant_id,
        Department.branch_id == branch_id,
        Department.code == code,
    )
    if session.scalar(taken):
        raise Conflict(f"Department code {code} is already used at this branch")
    _check_strategy(allocation_strategy)
    dept = Department(
        tenant_id=tenant_id,
        branch_id=branch_id,
        code=code,
        name=_required(name, "name"),
        allocation_strategy=allocation_strategy,
    )
    session.add(dept)
    session.flush()
    audit.record(session, actor, "department.create", entity="department", entity_id=dept.id)
    return dept


def set_queue_settings(
    session: Session,
    actor: Actor,
    *,
    settings: Mapping[str, Any],
    department_id: int | None = None,
) -> None:
    """Replace the clinic's queue knobs, or one department's overrides of them.

    Keys are ``QueueRules`` fields plus ``priority_weights``; the clinic's other settings stay.
    """
    require(actor, "settings.write")
    tenant_id = tenant_of(session, actor)
    knobs = _check_queue_settings(settings)
    if department_id is None:
        tenant = session.get(Tenant, tenant_id)
        if tenant is None:
            raise NotFound("Clinic not found")
        kept = {k: v for k, v in (tenant.settings or {}).items() if not is_queue_key(k)}
        tenant.settings = {**kept, **knobs}
        entity, entity_id = "tenant", tenant_id
    else:
        access_department(session, actor, department_id).queue_settings = knobs
        entity, entity_id = "department", department_id
    session.flush()
    audit.record(
        session,
        actor,
        "queue_settings.set",
        entity=entity,
        entity_id=entity_id,
        detail={"keys": sorted(knobs)},
    )


def set_allocation_strategy(
    session: Session, actor: Actor, *, department_id: int, strategy: str
) -> Department:
    """Choose how a department assigns walk-ins to its doctors (one of ``STRATEGIES``)."""
    require(actor, "settings.write")
    dept = access_department(session, actor, department_id)
    _check_strategy(strategy)
    dept.allocation_strategy = strategy
    session.flush()
    audit.record(
        session,
        actor,
        "department.strategy",
        entity="department",
        entity_id=dept.id,
        detail={"strategy": strategy},
    )
    return dept


def register_whatsapp_number(
    session: Session,
    actor: Actor,
    *,
    phone_number_id: str,
    branch_id: int,
    display_number: str | None = None,
) -> WhatsAppNumber:
    """Route Meta's ``phone_number_id`` to a branch of the actor's clinic."""
    require(actor, "settings.write")
    tenant_id = tenant_of(session, actor)
    access_branch(session, actor, branch_id)
    if not phone_number_id.isdigit():
        raise ValidationFailed("phone_number_id is numeric", field="phone_number_id")
    current = session.get(WhatsAppNumber, phone_number_id)
    if current is not None and current.tenant_id != tenant_id:
        raise Conflict("That WhatsApp number belongs to another clinic")
    row = current or WhatsAppNumber(phone_number_id=phone_number_id, tenant_id=tenant_id)
    row.branch_id, row.display_number = branch_id, display_number
    session.add(row)
    session.flush()
    audit.record(session, actor, "whatsapp_number.set", entity="branch", entity_id=branch_id)
    return row


def access_branch(session: Session, actor: Actor, branch_id: int) -> Branch:
    """Fetch a branch of the actor's clinic, or raise ``NotFound``."""
    return load_owned(session, actor, Branch, branch_id, "Branch")


def access_department(session: Session, actor: Actor, department_id: int) -> Department:
    """Fetch a department of the actor's clinic, or raise ``NotFound``."""
    return load_owned(session, actor, Department, department_id, "Department")


def branch_departments(session: Session, actor: Actor, *, branch_id: int) -> list[Department]:
    """Return the active departments of a branch of the actor's clinic, by name."""
    branch = access_branch(session, actor, branch_id)
    return list(
        session.scalars(
            select(Department)
            .where(
                Department.tenant_id == branch.tenant_id,
                Department.branch_id == branch.id,
                Department.active.is_(True),
            )
            .order_by(Department.name)
        )
    )


def branch_by_slug(session: Session, actor: Actor, slug: str) -> Branch:
    tenant_id = tenant_of(session, actor)
    branch = session.scalar(
        select(Branch).where(Branch.tenant_id == tenant_id, Branch.slug == slug)
    )
    if branch is None:
        raise NotFound("Branch not found")
    return branch


def tenant_timezone(session: Session, tenant_id: int, branch: Branch | None = None) -> ZoneInfo:
    """Return the zone wall-clock times are computed in (branch override, else tenant)."""
    if branch is not None and branch.timezone:
        return ZoneInfo(branch.timezone)
    tenant = session.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFound("Clinic not found")
    return ZoneInfo(tenant.timezone)


def is_queue_key(key: str) -> bool:
    """Tell whether a settings key is a queue knob (``QueueRules`` field or the weights)."""
    return key in _QUEUE_KNOBS or key == "priority_weights"


def _check_queue_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Return the settings as a plain dict if each key is a knob and each value is in range.

    ``rules_from`` silently ignores a bad value (the queue must keep running); here, at the
    admin's form, a value it would ignore is an error instead.
    """
    unknown = sorted(k for k in settings if not is_queue_key(k))
    if unknown:
        raise ValidationFailed(f"Unknown queue setting {unknown[0]!r}", field=unknown[0])
    for key, value in settings.items():
        if key == "priority_weights":
            _check_weights(value)
        elif getattr(rules_from({key: value}), key) != value or isinstance(value, bool):
            raise ValidationFailed(f"Queue setting {key} is out of range", field=key)
    return dict(settings)


def _check_weights(weights: Any) -> None:
    if not isinstance(weights, Mapping):
        raise ValidationFailed("Priority weights map kinds to numbers", field="priority_weights")
    applied = rules_from({"priority_weights": weights}).weights
    for kind, weight in weights.items():
        if kind not in DEFAULT_WEIGHTS or kind == "emergency" or applied[kind] != weight:
            raise ValidationFailed(
                f"Priority weight for {kind!r} is not allowed", field="priority_weights"
            )


def _check_strategy(strategy: str) -> None:
    if strategy not in STRATEGIES:
        raise ValidationFailed(
            f"Allocation strategy must be one of {', '.join(STRATEGIES)}",
            field="allocation_strategy",
        )


def _check_slug(slug: str) -> None:
    if not _SLUG.match(slug):
        raise ValidationFailed("Slug must be 2-39 lowercase letters, digits or '-'", field="slug")


def _check_timezone(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationFailed(f"Unknown timezone {name!r}", field="timezone") from exc


def _required(value: str, field: str) -> str:
    value = (value or "").strip()
    if not value:
        raise ValidationFailed(f"{field.replace('_', ' ').capitalize()} is required", field=field)
    return value
