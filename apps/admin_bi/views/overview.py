"""The owner's end-of-day page: the last day's numbers first, then the period's trends.

Tiles answer "how many came, how long did they wait, what did we earn" for the last day of the
chosen period; the charts below answer one question each over the whole period.
"""

from __future__ import annotations

import datetime as dt

import streamlit as st

from apps.admin_bi import charts, kit
from apps.admin_bi.report import report_downloads
from apps.common.runtime import runtime
from core.analytics import bi

rt = runtime()
staff = kit.clinic_staff()
assert staff.desk is not None
st.markdown(f"### {staff.desk.clinic_name} · overview")
f = kit.filter_bar(rt, staff, "overview")
day = bi.BIFilter(f.end, f.end, f.branch_id, f.department_id, f.doctor_id)

# --- The day: executive numbers --------------------------------------------------------------
summary = kit.cached(rt, staff, bi.daily_summary, day)
visits = kit.cached(rt, staff, bi.footfall, day)
money = kit.cached(rt, staff, bi.revenue, day)
waits = kit.cached(rt, staff, bi.wait_heatmap, day)
if summary is None or visits is None or money is None or waits is None:
    st.stop()
kit.question(f"How did {f.end:%A %d %b} go?")
s, foot = summary.summary, visits.rows[0] if visits.rows else (f.end, 0, None, None)
booked, kept = int(s.get("appointments") or 0), int(s.get("completed") or 0)
avg_wait = waits.summary.get("avg_wait_min")
tiles = st.columns(6)
tiles[0].metric(
    "Patients",
    foot[1],
    delta=f"{foot[3]:+.0f}% vs usual" if foot[3] is not None else None,
    help=f"Tokens issued and not cancelled (walk-ins and appointments); the usual "
    f"{f.end:%A} is {foot[2] if foot[2] is not None else 'not known yet'} (8 weeks before)",
    border=True,
)
tiles[1].metric(
    "Appointments",
    f"{kept} of {booked}",
    help=f"Kept of booked; {s.get('walk_ins', 0)} walk-ins came besides",
    border=True,
)
tiles[2].metric("No-shows", s.get("no_show", 0), help="Booked and never came", border=True)
tiles[3].metric("Cancelled", s.get("cancelled", 0), border=True)
tiles[4].metric("Collected", kit.rupees(money.summary.get("total_minor")), border=True)
tiles[5].metric(
    "Average wait",
    f"{avg_wait:.0f} min" if isinstance(avg_wait, int | float) else "—",
    help="From the token to the start of the consultation",
    border=True,
)

# --- The period: trends, one question per chart ---------------------------------------------
st.markdown(f"#### {kit.span_label(f)}")
left, right = st.columns(2, gap="medium")
with left:
    trend = kit.cached(rt, staff, bi.footfall, f)
    if trend is not None:
        kit.question(trend.question, trend.note)
        charts.show(charts.footfall(trend), "footfall")
with right:
    period = "day" if f.days <= 45 else "week" if f.days <= 200 else "month"
    earned = kit.cached(rt, staff, bi.revenue, f, period=period)
    if earned is not None:
        e = earned.summary
        kit.question(
            f"How much came in ({period} by {period}), and how was it paid?",
            f"{kit.rupees(e.get('total_minor'))} from {e.get('payments')} payments · "
            f"cash {e.get('cash_pct') or 0}% · card {e.get('card_pct') or 0}% · "
            f"UPI {e.get('upi_pct') or 0}%",
        )
        charts.show(charts.revenue_by_mode(earned, period), "revenue_mode")

left, right = st.columns(2, gap="medium")
with left:
    heat = kit.cached(rt, staff, bi.wait_heatmap, f)
    if heat is not None:
        kit.question(heat.question, f"average wait {heat.summary.get('avg_wait_min')} min")
        if heat.rows:
            charts.show(charts.wait_heatmap(heat), "wait_heatmap")
        else:
            st.caption("No consultations started in this period.")
with right:
    peak = kit.cached(rt, staff, bi.peak_hours, f)
    tomorrow = kit.read(
        rt, staff, bi.tomorrow_forecast, f, day=kit.today(staff) + dt.timedelta(days=1)
    )
    if peak is not None and tomorrow is not None:
        kit.question(
            "When do patients arrive, and how busy will tomorrow be?",
            f"tomorrow: about {tomorrow.summary.get('expected', 0)} patients, busiest at "
            f"{tomorrow.summary.get('peak_hour')}:00 · {tomorrow.note}",
        )
        charts.show(charts.peaks(peak, tomorrow), "peaks")

left, right = st.columns([1, 1.3], gap="medium")
with left:
    by_doctor = kit.cached(rt, staff, bi.revenue_by_doctor, f)
    if by_doctor is not None:
        kit.question(by_doctor.question)
        rows = by_doctor.rows[:10]
        fig = charts.horizontal(
            [r[0] for r in rows],
            [int(r[2] or 0) / 100 for r in rows],
            "₹",
            "#15803d",
            text=[kit.rupees(r[2]) for r in rows],
        )
        charts.show(fig, "revenue_doctor", height=max(160, 32 * len(rows) + 60))
with right:
    risk = kit.no_show_risk(rt, staff, f)
    if risk is not None:
        kit.question(
            risk.question,
            f"next 7 days · usual no-show rate {risk.summary.get('base_rate_pct')}%",
        )
        df = kit.frame(
            risk,
            {"slot": "Slot", "doctor": "Doctor", "risk_pct": "Risk %", "why": "Why"},
        ).drop(columns=["appointment_id"])
        kit.show_table(df, "no_show_risk", empty="No upcoming appointments to score.")

report_downloads(rt, staff, f)
