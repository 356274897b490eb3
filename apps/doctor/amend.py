"""Amend a finished visit's notes: a new version with the doctor, the time and the reason;
the earlier text stays in the record's history."""

from __future__ import annotations

import streamlit as st

from apps.common.runtime import Runtime
from apps.reception.live_queues import act
from core.clinical.glance import Visit
from core.clinical.records import record_notes

PARTS = {
    "chief_complaint": "Chief complaint",
    "examination": "Examination",
    "treatment_plan": "Plan",
}


def amend_popover(rt: Runtime, visit: Visit, on_done: object) -> None:
    """A small popover: which part, the corrected text, why."""
    key = visit.consultation_id
    with st.popover("Amend", icon=":material/edit_note:", type="tertiary"):
        part = st.selectbox("Part", list(PARTS), format_func=PARTS.get, key=f"doc_am_part_{key}")
        text = st.text_area("Corrected text", key=f"doc_am_text_{key}", height=68)
        reason = st.text_input("Reason (required)", key=f"doc_am_reason_{key}", max_chars=300)
        if not st.button("Save amendment", key=f"doc_am_save_{key}", type="primary"):
            return
        if not text.strip():
            st.error("Type the corrected text")
        elif act(
            rt,
            "Amendment saved; the earlier version stays in the history",
            record_notes,
            consultation_id=visit.consultation_id,
            reason=reason,
            **{part: text.strip()},
        ):
            if callable(on_done):
                on_done()
            st.rerun()
