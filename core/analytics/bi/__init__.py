"""The owner's KPIs, computed in the database for one clinic (SPEC §4 "Admin and BI console").

Every function takes ``(session, actor, f: BIFilter)`` and returns a ``KpiTable`` (columns, rows,
headline ``summary``, the ``question`` it answers); the actor needs ``report.read`` (revenue also
``billing.read``), and a branch, department or doctor of another clinic is ``NotFound``. Pass a
``KpiCache`` (one per process) as ``cache=`` to reuse results until the clinic's next queue event
or the next minute. ``to_csv`` and ``report_pdf`` export them.
"""

from core.analytics.bi.base import BIFilter, KpiCache, KpiTable
from core.analytics.bi.export import render_report, report_pdf, report_view, to_csv
from core.analytics.bi.flow import (
    daily_summary,
    doctor_productivity,
    ewt_accuracy,
    footfall,
    highest_risk_upcoming,
    no_show_rate,
    peak_hours,
    popular_slots,
    tomorrow_forecast,
    wait_heatmap,
)
from core.analytics.bi.money import (
    case_mix,
    lab_volumes,
    ratings,
    recent_feedback,
    revenue,
    revenue_by_doctor,
)

__all__ = [
    "BIFilter",
    "KpiCache",
    "KpiTable",
    "case_mix",
    "daily_summary",
    "doctor_productivity",
    "ewt_accuracy",
    "footfall",
    "highest_risk_upcoming",
    "lab_volumes",
    "no_show_rate",
    "peak_hours",
    "popular_slots",
    "ratings",
    "recent_feedback",
    "render_report",
    "report_pdf",
    "report_view",
    "revenue",
    "revenue_by_doctor",
    "to_csv",
    "tomorrow_forecast",
    "wait_heatmap",
]
