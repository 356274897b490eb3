"""Diagnoses of the visit: search ICD-10-CM by code or words, add primary then secondary."""

from __future__ import annotations

from html import escape

import streamlit as st

from apps.common.runtime import Runtime
from apps.doctor.record import Saved, forget
from apps.reception.live_queues import act
from core.clinical.icd10 import Icd10Code, search_icd10
from core.clinical.records import add_diagnosis, retract_diagnosis
from core.errors import DomainError

FREE_TEXT = "__text__"


def matches(query: str) -> list[Icd10Code]:
    try:
        return search_icd10(query, limit=12)
    except DomainError:
        return []


def diagnoses(rt: Runtime, record: Saved) -> None:
    """The current diagnoses with remove, and the search that adds one."""
    cid = record.consultation_id
    for d in record.diagnoses:
        text, remove = st.columns([6, 1], vertical_alignment="center", gap="xsmall")
        kind = "primary" if d.primary else "secondary"
        code = f"<b>{escape(d.icd10_code)}</b> " if d.icd10_code else ""
        text.markdown(
            f'{code}{escape(d.description)} <span class="qd-muted">{kind}</span>',
            unsafe_allow_html=True,
        )
        if remove.button("✕", key=f"doc_dx_del_{d.id}", help="Remove this diagnosis") and act(
            rt,
            "Diagnosis removed",
            retract_diagnosis,
            diagnosis_id=d.id,
            reason="Removed by the doctor during the visit",
        ):
            forget()
            st.rerun()
    query = st.text_input(
        "Diagnosis",
        key=f"doc_dx_q_{cid}",
        placeholder="ICD-10 code or words, e.g. M17 or osteoarthritis knee",
    )
    query = query.strip()
    if len(query) < 2:
        return
    found = {c.code: c.title for c in matches(query)}
    options = [*found, FREE_TEXT]
    pick, add = st.columns([5, 1.3], vertical_alignment="bottom", gap="xsmall")
    choice = pick.selectbox(
        "Matches",
        options,
        format_func=lambda c: f'As typed: "{query}"' if c == FREE_TEXT else f"{c} · {found[c]}",
        key=f"doc_dx_pick_{cid}",
    )
    primary = not any(d.primary for d in record.diagnoses)
    label = "Add primary" if primary else "Add secondary"
    if add.button(label, key=f"doc_dx_add_{cid}", type="primary", width="stretch") and act(
        rt,
        "Diagnosis added",
        add_diagnosis,
        consultation_id=cid,
        icd10_code=None if choice == FREE_TEXT else choice,
        description=query if choice == FREE_TEXT else None,
        primary=primary,
    ):
        forget()
        st.session_state.pop(f"doc_dx_q_{cid}", None)
        st.rerun()
