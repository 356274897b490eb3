"""The desk's left side: find or register the patient in front of you, then give a token.

Search runs as you type (a fragment, so only this side reruns); a token or a check-in reruns
the whole page so the live queues show it at once.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

import streamlit as st

from apps.common import auth
from apps.common.runtime import Runtime
from apps.reception import live_queues, profile_link, token_slip
from core.errors import DomainError
from core.patients import PatientSummary, register_patient, search_patients
from core.queue.desk_view import DeskSnapshot, TodaysAppointment, todays_appointments
from core.queue.issuing import issue_token

RESULTS = "qlink_desk_results"  # (query key, results): a rerun does not search (audit) again
PICKED = "qlink_desk_patient"
NEXT_QUERY = "qlink_desk_next_query"  # set before the box exists: Streamlit forbids it after
FLASH = "qlink_desk_flash"  # (success, warnings) of the last registration, shown once
KINDS = {  # the kinds a desk gives by hand ("booked" comes from a check-in)
    "walk_in": "Walk-in",
    "emergency": "Emergency",
    "priority": "Elderly/pregnant",
    "vip": "VIP",
    "follow_up": "Follow-up",
}
GENDERS = {"m": "Male", "f": "Female", "o": "Other"}
SHOWN = 6


def search(rt: Runtime, query: str) -> list[PatientSummary] | None:
    staff = auth.recheck(rt, touch=True)
    key = (staff.actor.user_id, staff.actor.tenant_id, query)
    cached = st.session_state.get(RESULTS)
    if cached is not None and cached[0] == key:
        return list(cached[1])
    try:
        with rt.db.transaction(staff.actor.tenant_id) as session:
            found = search_patients(session, staff.actor, vault=rt.vault, query=query, limit=SHOWN)
    except DomainError as exc:
        st.error(exc.message)
        return None
    st.session_state[RESULTS] = (key, tuple(found))
    return found


def _line(p: PatientSummary) -> str:
    facts = [f"{p.age} y" if p.age is not None else "", GENDERS.get(p.gender or "", "")]
    facts.append(p.masked_phone or "no phone")
    return f"**{p.code}** · {p.full_name} · " + " · ".join(f for f in facts if f)


def new_search() -> None:
    for key in ("desk_query", PICKED, RESULTS):
        st.session_state.pop(key, None)


@st.fragment
def find_patient(rt: Runtime, snap: DeskSnapshot | None) -> None:
    """Search box, results to pick from, register-on-the-spot, and the token panel."""
    if NEXT_QUERY in st.session_state:
        st.session_state["desk_query"] = st.session_state.pop(NEXT_QUERY)
    done, warnings = st.session_state.pop(FLASH, (None, []))
    for warning in warnings:
        st.warning(warning, icon=":material/content_copy:")
    if done:
        st.success(done)
    box, fresh = st.columns([2.5, 1.3], vertical_alignment="bottom", gap="small")
    fresh.button(
        "New", key="desk_new", on_click=new_search, shortcut="Ctrl+K", icon=":material/add:",
        help="Clear for the next patient (Ctrl+K)", width="stretch",
    )  # fmt: skip
    query = box.text_input(
        "Find a patient", key="desk_query", type="search", live="300ms",
        placeholder="Name, phone, last 4 digits or PAT code",
    )  # fmt: skip
    query = (query or "").strip()
    picked: PatientSummary | None = st.session_state.get(PICKED)
    if query:
        found = search(rt, query) or []
        if found:
            ids = [p.id for p in found]
            by_id = {p.id: p for p in found}
            index = ids.index(picked.id) if picked and picked.id in by_id else 0
            choice = st.radio(
                "Patients found", ids, index=index, key="desk_pick",
                format_func=lambda i: _line(by_id[i]), label_visibility="collapsed",
            )  # fmt: skip
            picked = by_id.get(choice) if choice is not None else None
            st.session_state[PICKED] = picked
        else:
            st.caption("No patient matches. Register them below.")
    register(rt, query if query and not query.isdigit() else "")
    if picked is not None and snap is not None:
        give_token(rt, picked, snap)
    token_slip.show(rt)


def register(rt: Runtime, typed_name: str) -> None:
    if typed_name and not st.session_state.get("reg_name"):
        st.session_state["reg_name"] = typed_name  # what was searched for is the likely name
    with st.expander("Register a new patient", expanded=False), st.form("desk_register"):
        name = st.text_input("Full name", key="reg_name")
        phone_box, age_box, gender_box = st.columns([2, 1, 1.2])
        phone = phone_box.text_input("Phone", key="reg_phone")
        age = age_box.number_input("Age", 0, 120, value=None, key="reg_age")
        gender = gender_box.selectbox(
            "Gender", list(GENDERS), format_func=GENDERS.get, index=None, key="reg_gender"
        )
        if not st.form_submit_button("Register", key="reg_submit", type="primary"):
            return
    staff = auth.recheck(rt, touch=True)
    try:
        with rt.db.transaction(staff.actor.tenant_id) as session:
            made = register_patient(
                session, staff.actor, vault=rt.vault, full_name=name or "",
                phone=(phone or "").strip() or None, age_years=age, gender=gender,
            )  # fmt: skip
            summary = PatientSummary(
                made.patient.id, made.patient.code, made.patient.full_name, age, gender,
                rt.vault.masked(made.patient.phone_cipher),
            )  # fmt: skip
    except DomainError as exc:
        st.error(exc.message)
        return
    notes = [
        f"Possible duplicate: {_line(d.patient)}: same phone, similar name."
        for d in made.duplicates
    ]
    st.session_state[FLASH] = (f"Registered {summary.code} {summary.full_name}", notes)
    st.session_state[PICKED] = summary
    st.session_state[NEXT_QUERY] = summary.code  # the box shows the new patient, found
    st.session_state.pop(RESULTS, None)
    live_queues.refresh()


def give_token(rt: Runtime, patient: PatientSummary, snap: DeskSnapshot) -> None:
    staff = auth.current()
    checkin = _appointments(rt, patient.id, snap.branch_id)
    zone = ZoneInfo(staff.desk.timezone if staff.desk else "UTC")
    for appt in checkin:
        when = appt.slot_start.astimezone(zone).strftime("%H:%M")
        if st.button(
            f"Check in: {when} with {appt.doctor}", key=f"checkin_{appt.id}",
            type="primary", icon=":material/how_to_reg:", width="stretch",
        ):  # fmt: skip
            issue(rt, patient, "booked", appt.department_id, appt.doctor_id, appt.id)
    targets = {("doctor", lane.doctor_id): lane.doctor for lane in snap.board.lanes}
    doctors_of = {lane.doctor_id: lane.department_id for lane in snap.board.lanes}
    targets |= {("dept", d.id): f"{d.name} (next free doctor)" for d in snap.board.departments}
    kind = st.segmented_control(
        "Kind", list(KINDS), format_func=KINDS.get, default="walk_in", key="desk_kind"
    )
    target = st.selectbox(
        "To",
        list(targets),
        format_func=targets.get,
        key="desk_target",
        index=0 if targets else None,
    )
    issue_col, profile_col = st.columns([3.2, 1], gap="small")
    with profile_col:  # the picked result's profile (history, bills, details)
        profile_link.button(staff.actor, patient.id, key="desk_profile")
    if issue_col.button(
        f"Token for {patient.full_name}", key="desk_issue", type="primary",
        icon=":material/confirmation_number:", shortcut="Ctrl+Enter", width="stretch",
        disabled=target is None, help="Issue the token (Ctrl+Enter)",
    ) and target is not None:  # fmt: skip
        what, ident = target
        dept = doctors_of[ident] if what == "doctor" else ident
        doctor = ident if what == "doctor" else None
        issue(rt, patient, kind or "walk_in", dept, doctor, None)


def issue(
    rt: Runtime,
    patient: PatientSummary,
    kind: str,
    department_id: int,
    doctor_id: int | None,
    appointment_id: int | None,
) -> None:
    staff = auth.recheck(rt, touch=True)
    try:
        with rt.db.transaction(staff.actor.tenant_id) as session:
            token = issue_token(
                session, staff.actor, patient_id=patient.id, department_id=department_id,
                kind=kind, doctor_id=doctor_id, appointment_id=appointment_id,
            )  # fmt: skip
    except DomainError as exc:
        st.error(exc.message)
        return
    token_slip.remember(token.id, patient.full_name, created=token.created)
    st.session_state[live_queues.ACTED] = True
    st.rerun(scope="app")


def _appointments(rt: Runtime, patient_id: int, branch_id: int) -> list[TodaysAppointment]:
    staff = auth.current()
    try:
        with rt.db.transaction(staff.actor.tenant_id, readonly=True) as session:
            return todays_appointments(
                session, staff.actor, patient_id=patient_id, branch_id=branch_id
            )
    except DomainError:
        return []
