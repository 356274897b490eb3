"""What a clinic's plan and subscription allow right now, checked on the hot paths.

The plan's daily token cap is copied into ``tenants.settings["plan"]`` when the clinic
subscribes (``core.plans.subscriptions``), so ``issue_token`` reads it with the row it already
loads (``queue_place``) and counts the day's tokens with one indexed sum over the day's
counters only when a cap is set. Emergencies are never refused, by a cap or a suspension.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.errors import ClinicSuspended, PlanLimitReached
from db.models import Tenant, TokenCounter

PLAN_KEY = "plan"  # in tenants.settings: {"code": ..., "token_daily_cap": ...}
SUSPENDED = "suspended"
NEVER_REFUSED = frozenset({"emergency"})


def token_daily_cap(settings: dict[str, Any] | None) -> int:
    """The clinic's daily token cap from its settings (0 = no cap)."""
    plan = (settings or {}).get(PLAN_KEY)
    cap = plan.get("token_daily_cap") if isinstance(plan, dict) else None
    return cap if isinstance(cap, int) and not isinstance(cap, bool) and cap > 0 else 0


def tokens_issued(session: Session, tenant_id: int, day: dt.date) -> int:
    """Tokens numbered today across the clinic's departments (given-back numbers excluded)."""
    total = session.scalar(
        select(func.coalesce(func.sum(TokenCounter.last_number), 0)).where(
            TokenCounter.tenant_id == tenant_id, TokenCounter.service_date == day
        )
    )
    return int(total or 0)


def check_token_allowed(
    session: Session,
    *,
    tenant_id: int,
    tenant_status: str,
    settings: dict[str, Any],
    kind: str,
    day: dt.date,
) -> None:
    """Raise ``ClinicSuspended`` or ``PlanLimitReached`` unless a ``kind`` token may be issued.

    A soft cap: two departments issuing the last token at the same instant may both pass
    (each holds only its own counter's lock); a clinic overshoots by at most one per department.
    """
    if kind in NEVER_REFUSED:
        return
    if tenant_status == SUSPENDED:
        raise ClinicSuspended()
    cap = token_daily_cap(settings)
    if cap and tokens_issued(session, tenant_id, day) >= cap:
        raise PlanLimitReached(
            f"Today's token limit of your plan ({cap}) is reached. Emergencies are still "
            "issued; upgrade the plan for more tokens a day.",
            cap=cap,
        )


def check_booking_allowed(session: Session, tenant_id: int) -> None:
    """Raise ``ClinicSuspended`` when the clinic may not take bookings."""
    status = session.scalar(select(Tenant.status).where(Tenant.id == tenant_id))
    if status == SUSPENDED:
        raise ClinicSuspended()
