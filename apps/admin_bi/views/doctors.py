"""Drill-down: who sees how many patients in their scheduled hours, and how reliably."""

from __future__ import annotations

from apps.admin_bi import charts, kit
from core.analytics import bi

rt, staff, f = kit.page("Doctors", "doctors")

table = kit.cached(rt, staff, bi.doctor_productivity, f)
if table is not None:
    kit.question(
        table.question,
        "utilisation = minutes consulting ÷ minutes scheduled (weekly hours less breaks and leave)",
    )
    rows = table.rows[:15]
    fig = charts.horizontal(
        [r[0] for r in rows], [r[5] or 0 for r in rows], "patients per scheduled hour", "#1d4ed8"
    )
    charts.show(fig, "productivity", height=max(160, 30 * len(rows) + 60))
    df = kit.frame(
        table,
        {
            "doctor": "Doctor",
            "patients": "Patients",
            "consult_min": "Consulting (min)",
            "scheduled_min": "Scheduled (min)",
            "utilisation_pct": "Utilisation %",
            "patients_per_hour": "Patients / hour",
            "avg_consult_min": "Avg consult (min)",
        },
    )
    kit.show_table(df, "doctor_productivity")

noshow = kit.cached(rt, staff, bi.no_show_rate, f)
if noshow is not None:
    rate = noshow.summary.get("rate_pct")
    kit.question(noshow.question, f"overall {rate if rate is not None else '—'}% no-show")
    df = kit.frame(
        noshow,
        {
            "booked_ahead": "Booked ahead",
            "appointments": "Appointments",
            "no_shows": "No-shows",
            "rate_pct": "Rate %",
        },
    )
    kit.show_table(df, "no_show_by_lead_time")
