"""The report downloads under the overview: the day's and the week's PDF (rendered in core)."""

from __future__ import annotations

import streamlit as st

from apps.admin_bi import kit
from apps.common.auth import Staff
from apps.common.runtime import Runtime
from core.analytics.bi import BIFilter, report_pdf

KINDS = {"daily": "the day", "weekly": "the week"}


def report_downloads(rt: Runtime, staff: Staff, f: BIFilter) -> None:
    """Prepare (on a click: it reads every KPI) and download the daily or weekly PDF."""
    kit.question(
        f"Reports to keep or send (ending {f.end:%a %d %b})",
        "the day's or the week's numbers and charts as a PDF, for the branch, department and "
        "doctor chosen above",
    )
    cols = st.columns(4)
    for col, (kind, what) in zip(cols, KINDS.items(), strict=False):
        key = f"qlink_bi_pdf_{kind}_{f.end}_{f.branch_id}_{f.department_id}_{f.doctor_id}"
        if col.button(
            f"Prepare {what}'s report", key=f"make_{kind}", icon=":material/description:"
        ):
            st.session_state[key] = kit.read(
                rt,
                staff,
                report_pdf,
                day=f.end,
                kind=kind,
                branch_id=f.branch_id,
                department_id=f.department_id,
                doctor_id=f.doctor_id,
            )
        pdf = st.session_state.get(key)
        if pdf:
            col.download_button(
                f"Download {kind} PDF",
                bytes(pdf),
                file_name=f"qlink-{kind}-report-{f.end:%Y-%m-%d}.pdf",
                mime="application/pdf",
                icon=":material/picture_as_pdf:",
                key=f"pdf_{kind}",
            )
