"""The report downloads under the overview: the day's and the week's PDF (rendered in core)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import streamlit as st

from apps.admin_bi import kit
from apps.common.auth import Staff
from apps.common.runtime import Runtime
from core.analytics.bi import BIFilter

try:  # the PDF layer lands with the KPI core's exports
    from core.analytics.bi import report_pdf as _report_pdf
except ImportError:  # pragma: no cover - until it lands
    _report_pdf = None
report_pdf: Any = _report_pdf


def report_downloads(rt: Runtime, staff: Staff, f: BIFilter) -> None:
    st.markdown("##### Reports to keep or send")
    if report_pdf is None:
        st.caption("PDF reports are not in this version yet; every table has a CSV download.")
        return
    narrow = {"branch_id": f.branch_id, "department_id": f.department_id, "doctor_id": f.doctor_id}
    spans = {
        "daily": BIFilter(f.end, f.end, **narrow),
        "weekly": BIFilter(f.end - dt.timedelta(days=6), f.end, **narrow),
    }
    cols = st.columns(4)
    for col, (kind, span) in zip(cols, spans.items(), strict=False):
        key = f"qlink_bi_pdf_{kind}"
        if col.button(f"Prepare the {kind} report", key=f"make_{kind}"):
            st.session_state[key] = kit.read(rt, staff, report_pdf, span, kind=kind)
        pdf = st.session_state.get(key)
        if pdf:
            col.download_button(
                f"Download {kind} PDF",
                bytes(pdf),
                file_name=f"qlink-{kind}-{span.end:%Y-%m-%d}.pdf",
                mime="application/pdf",
                icon=":material/picture_as_pdf:",
            )
