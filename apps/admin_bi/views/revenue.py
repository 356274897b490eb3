"""Drill-down: money in by day, week or month and mode, and by doctor."""

from __future__ import annotations

import streamlit as st

from apps.admin_bi import charts, kit
from core.analytics import bi

rt, staff, f = kit.page("Revenue", "revenue")
period = st.segmented_control(
    "Group by", ["day", "week", "month"], default="day", key="qlink_bi_rev_period"
)
period = period or "day"

table = kit.cached(rt, staff, bi.revenue, f, period=period)
if table is not None:
    s = table.summary
    kit.question(
        table.question,
        f"{kit.rupees(s.get('total_minor'))} from {s.get('payments')} payments · "
        f"cash {kit.rupees(s.get('cash_minor'))} · card {kit.rupees(s.get('card_minor'))} · "
        f"UPI {kit.rupees(s.get('upi_minor'))}",
    )
    if table.rows:
        charts.show(charts.revenue_by_mode(table, period), "revenue_period")
    money = [c for c in table.columns if c.endswith("_minor")]
    names = {"cash": "Cash", "card": "Card", "upi": "UPI", "total": "Total"}
    labels = {c: f"{names.get(c.removesuffix('_minor'), c)} ₹" for c in money}
    kit.show_table(kit.frame(table, {period: period.capitalize(), **labels}, money), "revenue")

by_doctor = kit.cached(rt, staff, bi.revenue_by_doctor, f)
if by_doctor is not None:
    kit.question(by_doctor.question)
    df = kit.frame(
        by_doctor,
        {"doctor": "Doctor", "bills": "Bills", "total_minor": "Total ₹"},
        ["total_minor"],
    )
    kit.show_table(df, "revenue_by_doctor")
