"""Drill-down: were the waits we told patients close to the waits they had?"""

from __future__ import annotations

import streamlit as st

from apps.admin_bi import kit
from core.analytics import bi

rt, staff, f = kit.page("Wait estimates", "ewt")

table = kit.cached(rt, staff, bi.ewt_accuracy, f)
if table is not None:
    s = table.summary
    kit.question(table.question, table.note)
    cols = st.columns(3)
    mae, naive = s.get("mae_estimate_min"), s.get("mae_naive_min")
    cols[0].metric("Patients measured", s.get("patients") or 0, border=True)
    cols[1].metric(
        "Our estimate is off by",
        f"{mae} min" if mae is not None else "—",
        help="Mean absolute error of the wait shown to the patient",
        border=True,
    )
    cols[2].metric(
        "A flat guess is off by",
        f"{naive} min" if naive is not None else "—",
        help="Everyone told the department's average wait",
        border=True,
    )
    df = kit.frame(
        table,
        {
            "department": "Department",
            "patients": "Patients",
            "avg_wait_min": "Avg wait (min)",
            "mae_estimate_min": "Estimate off by (min)",
            "mae_naive_min": "Flat guess off by (min)",
        },
    )
    kit.show_table(df, "ewt_accuracy")
