"""The calendar's waiting list: who waits for the day, their offers, and adding the patient."""

from __future__ import annotations

import datetime as dt
from html import escape
from typing import Any

import streamlit as st

from apps.common.auth import Staff
from apps.common.runtime import Runtime
from apps.reception.calendar_actions import act
from core.scheduling.day_calendar import DayCalendar
from core.scheduling.waitlist import (
    WaitingRow,
    Wish,
    accept_offer,
    add_to_waitlist,
    decline_offer,
    remove_from_waitlist,
)

ANY_TIME = "Any time"
WINDOWS = {
    ANY_TIME: (None, None),
    "Morning (before 13:00)": (dt.time(0), dt.time(13)),
    "Afternoon (13:00 on)": (dt.time(13), dt.time(23, 59)),
}


def waiting_box(rt: Runtime, staff: Staff, cal: DayCalendar, patient: Any) -> None:
    """List the day's waiting patients with their offers; offer to add the chosen patient."""
    st.markdown(f"**Waiting list** · {cal.board.on_date:%d %b} · {len(cal.waiting)}")
    if not cal.waiting:
        st.caption("Nobody is waiting. A full day? Add the patient here; a freed slot is offered.")
    for row in cal.waiting:
        _entry(rt, staff, row)
    if patient is not None and cal.doctors:
        _add_form(rt, staff, cal, patient)


def _entry(rt: Runtime, staff: Staff, row: WaitingRow) -> None:
    st.markdown(
        f"{escape(row.patient_name)} · {row.patient_code} — {escape(row.wants)}, {row.window}",
    )
    if row.offer_id is not None:
        offer_id = row.offer_id
        st.markdown(
            f'<span class="ql-note">Offered {row.offer_label}, answer by {row.offer_expires}'
            "</span>",
            unsafe_allow_html=True,
        )
        yes, no = st.columns(2)
        yes.button(
            "Accept",
            key=f"cal_wl_accept_{offer_id}",
            type="primary",
            width="stretch",
            on_click=act,
            args=(
                rt,
                staff,
                f"Booked {row.patient_name} at {row.offer_label}.",
                lambda s: accept_offer(s, staff.actor, offer_id=offer_id),
            ),
        )
        no.button(
            "Decline",
            key=f"cal_wl_decline_{offer_id}",
            width="stretch",
            on_click=act,
            args=(
                rt,
                staff,
                "Declined: the slot goes to the next in line.",
                lambda s: decline_offer(s, staff.actor, offer_id=offer_id),
            ),
        )
    entry_id = row.entry_id
    st.button(
        "Remove from list",
        key=f"cal_wl_remove_{entry_id}",
        type="tertiary",
        on_click=act,
        args=(
            rt,
            staff,
            f"{row.patient_name} left the waiting list.",
            lambda s: remove_from_waitlist(s, staff.actor, entry_id=entry_id),
        ),
    )


def _add_form(rt: Runtime, staff: Staff, cal: DayCalendar, patient: Any) -> None:
    with st.expander(f"Add {patient[2]} to the waiting list"):
        doctors = {d.doctor_id: d.name for d in cal.doctors}
        doctor_id = st.selectbox(
            "Doctor", list(doctors), format_func=doctors.__getitem__, key="cal_wl_doctor"
        )
        any_doctor = st.checkbox("Any doctor of the department", key="cal_wl_any")
        window = st.selectbox("When", list(WINDOWS), key="cal_wl_window")
        note = st.text_input("Note", key="cal_wl_note", max_chars=200)
        department = next(d for d in cal.doctors if d.doctor_id == doctor_id)
        start, end = WINDOWS[window]
        wish = Wish(
            patient_id=patient[0],
            branch_id=cal.board.branch_id,
            on_date=cal.board.on_date,
            doctor_id=None if any_doctor else doctor_id,
            department_id=department.department_id if any_doctor else None,
            window_start=start,
            window_end=end,
            note=note,
        )
        st.button(
            "Add to waiting list",
            key="cal_wl_add",
            type="primary",
            width="stretch",
            on_click=act,
            args=(
                rt,
                staff,
                f"{patient[2]} is on the waiting list.",
                lambda s: add_to_waitlist(s, staff.actor, wish),
            ),
        )
