"""Usage against the plan: tokens today against the cap, messages this month by pricing
category against the quota, doctors and branches, and the month's bill with GST.

``clinic_usage`` is the clinic admin's page (own clinic) and the platform admin's drill-down;
``platform_overview`` lists every clinic for the platform admin (a handful of grouped queries,
not one per clinic).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.auth.permissions import require
from core.context import Actor
from core.errors import PermissionDenied
from core.messaging.outbound import usage_by_category
from core.plans.catalogue import MonthlyBill, monthly_bill
from core.plans.limits import tokens_issued
from core.plans.subscriptions import access_clinic, current_subscription
from db.models import Branch, Doctor, Plan, Tenant, TokenCounter, WhatsAppMessage


@dataclass(frozen=True)
class ClinicUsage:
    """One clinic's plan, status and usage; quotas and caps of 0 mean unlimited."""

    tenant_id: int
    clinic: str
    status: str
    plan: str | None
    tokens_today: int
    token_daily_cap: int
    messages_month: dict[str, int]
    message_quota: int
    doctors: int
    max_doctors: int
    branches: int
    bill: MonthlyBill | None

    @property
    def messages_total(self) -> int:
        return sum(self.messages_month.values())

    @property
    def over_quota(self) -> int:
        """Messages sent this month beyond the quota."""
        return max(0, self.messages_total - self.message_quota) if self.message_quota else 0


def clinic_usage(
    session: Session, actor: Actor, *, tenant_id: int, now: dt.datetime
) -> ClinicUsage:
    """Return a clinic's plan and usage (its own admin, or the platform admin)."""
    if actor.tenant_id is not None:
        require(actor, "report.read")
    tenant = access_clinic(session, actor, tenant_id)
    local = now.astimezone(ZoneInfo(tenant.timezone))
    month_start = _month_start(local)
    sub = current_subscription(session, tenant.id)
    plan = session.get(Plan, sub.plan_id) if sub is not None else None
    branches = _count(session, Branch, tenant.id)
    return ClinicUsage(
        tenant.id,
        tenant.name,
        tenant.status,
        plan.name if plan else None,
        tokens_issued(session, tenant.id, local.date()),
        plan.token_daily_cap if plan else 0,
        usage_by_category(session, tenant.id, since=month_start),
        plan.message_quota if plan else 0,
        _count(session, Doctor, tenant.id),
        plan.max_doctors if plan else 0,
        branches,
        monthly_bill(plan, branches=branches) if plan else None,
    )


@dataclass(frozen=True)
class ClinicLine:
    """A clinic in the platform admin's list."""

    tenant_id: int
    slug: str
    name: str
    status: str
    plan: str | None
    tokens_today: int
    messages_month: int
    monthly_total_minor: int | None


def platform_overview(session: Session, actor: Actor, *, now: dt.datetime) -> list[ClinicLine]:
    """Return every clinic with its plan, status, today's tokens and the month's messages.

    Platform admin only, in the platform scope. Days and months are taken in UTC here (the
    list is an overview; a clinic's own page uses its zone).
    """
    require(actor, "platform.manage")
    if actor.tenant_id is not None:
        raise PermissionDenied("Only the platform admin sees every clinic")
    today = now.date()
    month_start = dt.datetime(now.year, now.month, 1, tzinfo=dt.UTC)
    tokens = dict(
        session.execute(
            select(TokenCounter.tenant_id, func.sum(TokenCounter.last_number))
            .where(TokenCounter.service_date == today)
            .group_by(TokenCounter.tenant_id)
        ).all()
    )
    messages = dict(
        session.execute(
            select(WhatsAppMessage.tenant_id, func.count())
            .where(
                WhatsAppMessage.direction == "out",
                WhatsAppMessage.wa_message_id.is_not(None),
                WhatsAppMessage.created_at >= month_start,
            )
            .group_by(WhatsAppMessage.tenant_id)
        ).all()
    )
    branches = dict(
        session.execute(
            select(Branch.tenant_id, func.count())
            .where(Branch.active.is_(True))
            .group_by(Branch.tenant_id)
        ).all()
    )
    out = []
    for tenant in session.scalars(select(Tenant).order_by(Tenant.name)):
        sub = current_subscription(session, tenant.id)
        plan = session.get(Plan, sub.plan_id) if sub is not None else None
        bill = monthly_bill(plan, branches=int(branches.get(tenant.id, 0))) if plan else None
        out.append(
            ClinicLine(
                tenant.id,
                tenant.slug,
                tenant.name,
                tenant.status,
                plan.name if plan else None,
                int(tokens.get(tenant.id) or 0),
                int(messages.get(tenant.id) or 0),
                bill.total_minor if bill else None,
            )
        )
    return out


def _count(session: Session, model: type[Branch] | type[Doctor], tenant_id: int) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(model)
            .where(model.tenant_id == tenant_id, model.active.is_(True))
        )
        or 0
    )


def _month_start(local: dt.datetime) -> dt.datetime:
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0).astimezone(dt.UTC)
