"""Subscribing a clinic to a plan, suspending and resuming it (platform actions).

A platform admin acts in the platform scope on any clinic; a clinic's own system actor may act
on its own clinic only (the seed). Subscribing copies the plan's daily token cap into the
clinic's settings, where the token issue path reads it (``core.plans.limits``).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit
from core.auth.permissions import require
from core.context import PLATFORM, Actor, tenant_of
from core.errors import NotFound, PermissionDenied, ValidationFailed
from core.plans.limits import PLAN_KEY, SUSPENDED
from db.models import Plan, Subscription, Tenant


def access_clinic(session: Session, actor: Actor, tenant_id: int) -> Tenant:
    """Fetch a clinic the actor may manage: any (platform admin) or its own, else ``NotFound``."""
    if actor.tenant_id is None:
        require(actor, "platform.manage")
        if session.info.get("tenant_id") != PLATFORM:
            raise PermissionDenied("Platform actions need the platform scope")
    elif tenant_of(session, actor) != tenant_id:
        raise NotFound("Clinic not found")
    tenant = session.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFound("Clinic not found")
    return tenant


def current_subscription(session: Session, tenant_id: int) -> Subscription | None:
    """The clinic's active or suspended subscription, if any (caller checked access)."""
    return session.scalar(
        select(Subscription)
        .where(Subscription.tenant_id == tenant_id, Subscription.status != "ended")
        .order_by(Subscription.id.desc())
        .limit(1)
    )


def subscribe(
    session: Session, actor: Actor, *, tenant_id: int, plan_code: str, start: dt.date
) -> Subscription:
    """Put a clinic on a plan from ``start`` (a running subscription ends that day)."""
    require(actor, "platform.manage")
    tenant = access_clinic(session, actor, tenant_id)
    plan = session.scalar(select(Plan).where(Plan.code == plan_code))
    if plan is None:
        raise ValidationFailed(f"Unknown plan {plan_code!r}", field="plan_code")
    old = current_subscription(session, tenant.id)
    status = old.status if old is not None else "active"
    if old is not None:
        old.status = "ended"
    sub = Subscription(
        tenant_id=tenant.id,
        plan_id=plan.id,
        status=status,
        started_on=start,
        current_period_end=_month_later(start),
        suspended_at=old.suspended_at if old is not None else None,
    )
    session.add(sub)
    settings = dict(tenant.settings or {})
    settings[PLAN_KEY] = {"code": plan.code, "token_daily_cap": plan.token_daily_cap}
    tenant.settings = settings
    session.flush()
    audit.record(
        session,
        actor,
        "subscription.start",
        entity="tenant",
        entity_id=tenant.id,
        detail={"plan": plan.code, "from": start.isoformat()},
    )
    return sub


def suspend_clinic(session: Session, actor: Actor, *, tenant_id: int, reason: str) -> Tenant:
    """Suspend a clinic: it cannot issue tokens (emergencies excepted) or take bookings."""
    require(actor, "platform.manage")
    tenant = access_clinic(session, actor, tenant_id)
    if not (reason or "").strip():
        raise ValidationFailed("Say why the clinic is suspended", field="reason")
    _set_status(session, actor, tenant, SUSPENDED, actor.clock())
    audit.record(
        session,
        actor,
        "clinic.suspend",
        entity="tenant",
        entity_id=tenant.id,
        detail={"reason": reason.strip()[:200]},
    )
    return tenant


def resume_clinic(session: Session, actor: Actor, *, tenant_id: int) -> Tenant:
    """Lift a suspension."""
    require(actor, "platform.manage")
    tenant = access_clinic(session, actor, tenant_id)
    _set_status(session, actor, tenant, "active", None)
    audit.record(session, actor, "clinic.resume", entity="tenant", entity_id=tenant.id)
    return tenant


def _set_status(
    session: Session, actor: Actor, tenant: Tenant, status: str, at: dt.datetime | None
) -> None:
    tenant.status = status
    sub = current_subscription(session, tenant.id)
    if sub is not None:
        sub.status, sub.suspended_at = status, at
    session.flush()


def _month_later(day: dt.date) -> dt.date:
    month = day.month % 12 + 1
    year = day.year + (day.month == 12)
    for d in (day.day, 30, 29, 28):
        try:
            return dt.date(year, month, d)
        except ValueError:
            continue
    raise AssertionError("unreachable")
