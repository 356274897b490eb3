"""Plan and usage: the clinic's plan, today's tokens against its cap, this month's messages by
pricing category, the monthly bill with GST. The platform admin sees every clinic and may
change a plan, suspend or resume a clinic."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from apps.admin_bi import kit
from apps.common import auth
from apps.common.runtime import runtime
from core.errors import DomainError
from core.plans import catalogue, subscriptions, usage
from db.engine import ALL_TENANTS

rt = runtime()
staff = auth.current()
actor = staff.actor
now = dt.datetime.now(dt.UTC)


def cap_text(used: int, cap: int) -> str:
    return f"{used:,} of {cap:,}" if cap else f"{used:,} (no cap)"


def show_clinic(u: usage.ClinicUsage) -> None:
    st.markdown(f"**{u.clinic}** · plan **{u.plan or 'none'}** · status **{u.status}**")
    if u.status == "suspended":
        st.error("Suspended: new tokens and bookings are refused (emergencies still go through).")
    cols = st.columns(4)
    cols[0].metric("Tokens today", cap_text(u.tokens_today, u.token_daily_cap))
    cols[1].metric("Messages this month", cap_text(u.messages_total, u.message_quota))
    cols[2].metric("Doctors", cap_text(u.doctors, u.max_doctors))
    cols[3].metric("Branches", str(u.branches))
    if u.token_daily_cap and u.tokens_today >= u.token_daily_cap:
        st.warning("Today's token cap is reached: walk-ins are refused until tomorrow.")
    kit.question("What were this month's messages, by Meta's pricing category?")
    cats = pd.DataFrame(sorted(u.messages_month.items()), columns=["Pricing category", "Messages"])
    st.dataframe(cats, hide_index=True)
    if u.bill is not None:
        kit.question("What does this month cost?")
        lines = [*u.bill.lines, *u.bill.gst]
        st.dataframe(
            pd.DataFrame(
                [{"Item": b.label, "Amount": kit.rupees(b.amount_minor)} for b in lines]
                + [{"Item": "Total", "Amount": kit.rupees(u.bill.total_minor)}]
            ),
            hide_index=True,
        )


if actor.tenant_id is not None:
    st.markdown("### Plan and usage")
    try:
        with rt.db.transaction(actor.tenant_id, readonly=True) as session:
            mine = usage.clinic_usage(session, actor, tenant_id=actor.tenant_id, now=now)
    except DomainError as exc:
        st.error(exc.message)
        st.stop()
    show_clinic(mine)
    st.stop()

st.markdown("### Clinics, plans and usage")
with rt.db.transaction(ALL_TENANTS, readonly=True) as session:
    clinics = usage.platform_overview(session, actor, now=now)
    plans = [(p.code, p.name) for p in catalogue.list_plans(session)]
st.dataframe(
    pd.DataFrame(
        [
            {
                "Clinic": c.name,
                "Plan": c.plan or "—",
                "Status": c.status,
                "Tokens today": c.tokens_today,
                "Messages this month": c.messages_month,
                "Monthly with GST": kit.rupees(c.monthly_total_minor)
                if c.monthly_total_minor
                else "—",
            }
            for c in clinics
        ]
    ),
    hide_index=True,
    width="stretch",
)
names = {c.tenant_id: c.name for c in clinics}
if not names:
    st.stop()
pick = st.selectbox("Clinic", list(names), format_func=names.__getitem__, key="plan_clinic")


def act(done: str, fn: object, **kw: object) -> None:
    try:
        with rt.db.transaction(ALL_TENANTS) as session:
            fn(session, actor, tenant_id=pick, **kw)  # type: ignore[operator]
    except DomainError as exc:
        st.error(exc.message)
    else:
        st.success(done)


c1, c2 = st.columns(2)
with c1.form("subscribe"):
    code = st.selectbox("Plan", [p[0] for p in plans], format_func=dict(plans).get, key="plan_code")
    if st.form_submit_button("Put on this plan"):
        act("Plan changed.", subscriptions.subscribe, plan_code=code, start=now.date())
with c2.form("suspend"):
    reason = st.text_input("Reason (for suspension)", key="plan_reason")
    s1, s2 = st.columns(2)
    if s1.form_submit_button("Suspend"):
        act(
            "Suspended: new tokens and bookings are refused.",
            subscriptions.suspend_clinic,
            reason=reason,
        )
    if s2.form_submit_button("Resume"):
        act("Resumed.", subscriptions.resume_clinic)
with rt.db.transaction(ALL_TENANTS, readonly=True) as session:
    show_clinic(usage.clinic_usage(session, actor, tenant_id=pick, now=now))
