"""Patients: one search box (name, phone, last four digits or code); phones always masked;
a button per result opens the patient's profile."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from apps.common import auth
from apps.common.runtime import runtime
from apps.reception import profile_link
from core.errors import DomainError
from core.patients import PatientSummary, search_patients

RESULTS = "qlink_patients_last_search"  # auth.forget() drops qlink_* keys
LIMIT = 20
PROFILE_COLUMNS = 4
ROW_PX, HEADER_PX, MAX_ROWS = 35, 38, 14
COLUMNS = {
    "Code": st.column_config.TextColumn(width="small"),
    "Name": st.column_config.TextColumn(width="large"),
    "Age": st.column_config.NumberColumn(width="small"),
    "Gender": st.column_config.TextColumn(width="small"),
    "Phone": st.column_config.TextColumn(width="medium"),
}

rt = runtime()
staff = auth.current()


def search(query: str) -> list[PatientSummary] | None:
    """Search once per distinct query: each search is audited, reruns should not repeat it."""
    key = (staff.actor.user_id, staff.actor.tenant_id, query)
    cached = st.session_state.get(RESULTS)
    if cached is not None and cached[0] == key:
        return list(cached[1])
    try:
        with rt.db.transaction(staff.actor.tenant_id) as session:
            found = search_patients(session, staff.actor, vault=rt.vault, query=query, limit=LIMIT)
    except DomainError as exc:
        st.error(exc.message)
        return None
    st.session_state[RESULTS] = (key, tuple(found))
    return found


def table(found: list[PatientSummary]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Code": [p.code for p in found],
            "Name": [p.full_name for p in found],
            "Age": [p.age for p in found],
            "Gender": [(p.gender or "").replace("_", " ").title() for p in found],
            "Phone": [p.masked_phone or "" for p in found],
        }
    )


@st.fragment
def search_box() -> None:
    query = st.text_input(
        "Find a patient",
        key="patient_query",
        type="search",
        live="300ms",
        placeholder="Name, phone, last 4 digits or PAT code",
    )
    query = (query or "").strip()
    if not query:
        st.caption("Type a name, a phone number, its last four digits, or a code like PAT0042.")
        return
    auth.recheck(rt, touch=True)
    found = search(query)
    if found is None:
        return
    if not found:
        st.info("No patient matches. Check the spelling, or search by phone.")
        return
    st.dataframe(
        table(found),
        hide_index=True,
        key="patient_results",
        width="stretch",
        height=HEADER_PX + ROW_PX * min(len(found), MAX_ROWS),
        column_config=COLUMNS,
    )
    more = f" (the first {LIMIT}: type more of the name, or search by phone)"
    st.caption(f"{len(found)} patients" + (more if len(found) == LIMIT else ""))
    profiles(found)


def profiles(found: list[PatientSummary]) -> None:
    """One button per result opening its profile (roles that may read one)."""
    if not profile_link.allowed(staff.actor):
        return
    columns = st.columns(PROFILE_COLUMNS, gap="small")
    for index, p in enumerate(found):
        with columns[index % PROFILE_COLUMNS]:
            if st.button(
                f"{p.code} · {p.full_name}",
                key=f"patients_profile_{p.id}",
                icon=":material/person:",
                help="Open the profile",
                width="stretch",
            ):
                profile_link.open_profile(p.id)


st.markdown("### Patients")
search_box()
