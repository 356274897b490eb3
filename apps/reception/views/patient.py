"""Patient profile: demographics, guardian and consents, allergies and conditions (read-only),
appointments, tokens, visits and bills; details edited through core (audited).

The patient comes from the calendar, the desk's search or the patients page
(``profile_link.PROFILE``) or the search here.
"""

from __future__ import annotations

from html import escape

import pandas as pd
import streamlit as st

from apps.common import auth
from apps.common.runtime import runtime
from apps.reception import profile_edit, profile_link
from core.errors import DomainError
from core.patients import search_patients
from core.patients.profile import Line, Profile, patient_profile

CHOSEN = profile_link.PROFILE
HISTORY_PX = 330

rt = runtime()
staff = auth.current()


def load(patient_id: int) -> Profile | None:
    try:
        with rt.db.transaction(staff.actor.tenant_id) as session:  # the read is audited
            return patient_profile(session, staff.actor, patient_id=patient_id, vault=rt.vault)
    except DomainError as exc:
        st.error(exc.message)
        return None


def finder() -> None:
    query = st.text_input(
        "Find a patient",
        key="profile_query",
        type="search",
        live="300ms",
        placeholder="Name, phone, last 4 digits or code",
    )
    if not (query or "").strip():
        return
    with rt.db.transaction(staff.actor.tenant_id) as session:
        found = search_patients(session, staff.actor, vault=rt.vault, query=query.strip(), limit=6)
    if not found:
        st.info("No patient matches.")
    for p in found:
        label = f"{p.full_name} · {p.code}" + (f" · {p.masked_phone}" if p.masked_phone else "")
        if st.button(label, key=f"profile_found_{p.id}", width="stretch"):
            st.session_state[CHOSEN] = p.id
            st.session_state.pop("profile_query", None)
            st.rerun()


def header(p: Profile) -> None:
    about = " · ".join(
        x
        for x in (
            p.code,
            f"{p.age} y" if p.age is not None else "",
            (p.gender or "").title(),
            p.masked_phone or "no phone",
            p.blood_group or "",
        )
        if x
    )
    allergies = (
        "".join(
            f'<span class="ql-chip" style="background:#b91c1c;color:#fff">⚠ {escape(a)}</span> '
            for a in p.allergies
        )
        or '<span class="ql-sub">No known allergies</span>'
    )
    st.markdown(
        f'### {escape(p.full_name)} <span class="ql-sub">{escape(about)}</span>',
        unsafe_allow_html=True,
    )
    st.markdown(f"**Allergies** {allergies}", unsafe_allow_html=True)


def facts(p: Profile) -> None:
    st.markdown(
        "**Guardian**  \n"
        + (
            escape(p.guardian) + (f" ({p.guardian_relation})" if p.guardian_relation else "")
            if p.guardian
            else "—"
        )
    )
    consents = ", ".join(
        f"{k.replace('_', ' ')} {'✓' if v else '✕'}" for k, v in sorted(p.consents.items())
    )
    st.markdown(f"**Consents**  \n{consents or 'none recorded'}")
    st.markdown("**Conditions**  \n" + (", ".join(map(escape, p.conditions)) or "none recorded"))
    st.markdown(f"**Address**  \n{escape(p.address or '—')}  \n**Email** {escape(p.email or '—')}")
    st.caption("Allergies and conditions are recorded by doctors; clinical notes stay with them.")


def table(lines: tuple[Line, ...], empty: str) -> None:
    if not lines:
        st.caption(empty)
        return
    frame = pd.DataFrame(
        {
            "When": [x.when for x in lines],
            "What": [x.what for x in lines],
            "Who": [x.who for x in lines],
            "Status": [x.status.replace("_", " ") for x in lines],
            "Note": [x.note for x in lines],
        }
    )
    st.dataframe(
        frame, hide_index=True, width="stretch", height=min(HISTORY_PX, 38 + 35 * len(lines))
    )


def history(p: Profile) -> None:
    tabs = st.tabs(
        [
            f"Appointments ({len(p.appointments)})",
            f"Tokens ({len(p.tokens)})",
            f"Visits ({len(p.visits)})",
            f"Bills ({len(p.bills)})",
        ]
    )
    for tab, lines, empty in zip(
        tabs,
        (p.appointments, p.tokens, p.visits, p.bills),
        ("No appointments.", "No tokens.", "No visits yet.", "No bills."),
        strict=True,
    ):
        with tab:
            table(lines, empty)


patient_id = st.session_state.get(CHOSEN)
if patient_id is None:
    st.markdown("### Patient")
    finder()
    st.stop()
profile = load(int(patient_id))
if profile is None:
    st.session_state.pop(CHOSEN, None)
    st.stop()
head, other = st.columns([5, 1], vertical_alignment="center")
with head:
    header(profile)
if other.button("Other patient", key="profile_other"):
    st.session_state.pop(CHOSEN, None)
    st.rerun()
left, right = st.columns([1.1, 2.4], gap="medium")
with left:
    facts(profile)
    profile_edit.edit_form(rt, staff, profile)
with right:
    history(profile)
