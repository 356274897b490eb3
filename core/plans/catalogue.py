"""The three price plans (Starter, Growth, Hospital) and the arithmetic of a monthly bill.

Prices are in paise. A plan includes some branches; each further active branch adds the plan's
per-branch price. GST at 18 % is charged on the subscription (SAC 998315, IT services), split
into CGST and SGST within the platform's state and IGST across states; the bill shows the split.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit
from core.auth.permissions import require
from core.context import Actor
from db.models import Plan

GST_RATE_BP = 1800  # basis points: 18 %


@dataclass(frozen=True)
class PlanSpec:
    """A plan as sold; ``0`` means unlimited for quotas and caps."""

    code: str
    name: str
    monthly_price_minor: int
    included_branches: int
    extra_branch_minor: int
    message_quota: int
    token_daily_cap: int
    max_doctors: int


PLANS = (
    PlanSpec("starter", "Starter", 199900, 1, 99900, 1000, 100, 3),
    PlanSpec("growth", "Growth", 499900, 2, 149900, 5000, 400, 10),
    PlanSpec("hospital", "Hospital", 1499900, 5, 249900, 0, 0, 0),
)


@dataclass(frozen=True)
class BillLine:
    label: str
    amount_minor: int


@dataclass(frozen=True)
class MonthlyBill:
    """A clinic's subscription charges for one month, before and after GST."""

    plan: str
    branches: int
    lines: tuple[BillLine, ...]
    subtotal_minor: int
    gst: tuple[BillLine, ...]
    total_minor: int


def ensure_plans(session: Session, actor: Actor) -> list[Plan]:
    """Create or update the three plans (platform action; the seed runs it)."""
    require(actor, "platform.manage")
    out = []
    for spec in PLANS:
        plan = session.scalar(select(Plan).where(Plan.code == spec.code))
        if plan is None:
            plan = Plan(code=spec.code)
            session.add(plan)
        plan.name, plan.monthly_price_minor = spec.name, spec.monthly_price_minor
        plan.message_quota, plan.token_daily_cap = spec.message_quota, spec.token_daily_cap
        plan.max_doctors = spec.max_doctors
        plan.features = {
            "included_branches": spec.included_branches,
            "extra_branch_minor": spec.extra_branch_minor,
        }
        out.append(plan)
    session.flush()
    audit.record(session, actor, "plans.ensure", entity="plan", detail={"count": len(out)})
    return out


def list_plans(session: Session) -> list[Plan]:
    """Return the plans, cheapest first (a public price list)."""
    return list(session.scalars(select(Plan).order_by(Plan.monthly_price_minor)))


def monthly_bill(plan: Plan, *, branches: int, interstate: bool = False) -> MonthlyBill:
    """Price one month of ``plan`` for a clinic with ``branches`` active branches."""
    included = int((plan.features or {}).get("included_branches", 1))
    per_branch = int((plan.features or {}).get("extra_branch_minor", 0))
    extra = max(0, branches - included)
    lines = [
        BillLine(f"{plan.name} plan (includes {included} branch(es))", plan.monthly_price_minor)
    ]
    if extra:
        lines.append(BillLine(f"{extra} additional branch(es)", extra * per_branch))
    subtotal = sum(line.amount_minor for line in lines)
    gst = _gst(subtotal, interstate)
    return MonthlyBill(
        plan.name,
        branches,
        tuple(lines),
        subtotal,
        gst,
        subtotal + sum(g.amount_minor for g in gst),
    )


def _gst(amount_minor: int, interstate: bool) -> tuple[BillLine, ...]:
    """GST lines, rounded half up to the paisa; intrastate splits into equal CGST and SGST."""
    if interstate:
        return (BillLine("IGST 18%", (amount_minor * GST_RATE_BP + 5000) // 10000),)
    half = (amount_minor * GST_RATE_BP // 2 + 5000) // 10000
    return (BillLine("CGST 9%", half), BillLine("SGST 9%", half))
