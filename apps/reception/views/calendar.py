"""Calendar: every doctor's slots of the day as a grid; a free slot is one click from a booking.

Pick the patient on the right (search as you type), then click a free slot: booked. Or click
the slot first: the panel asks for the patient. Click a booking to reschedule or cancel it; a
full slot offers "overbook" when the clinic allows it. The waiting list and its offers sit
under the panel.
"""

from __future__ import annotations

import datetime as dt

import streamlit as st

from apps.common import auth
from apps.common.runtime import runtime
from apps.reception import calendar_panel as panel
from core.errors import DomainError
from core.scheduling.day_calendar import DayCalendar, day_calendar

rt = runtime()
staff = auth.current()
branch_id = staff.branch_id
if staff.desk is None or branch_id is None:
    st.info("This clinic has no branches yet.")
    st.stop()


def shift(days: int) -> None:
    st.session_state["cal_date"] = st.session_state["cal_date"] + dt.timedelta(days=days)


st.session_state.setdefault("cal_date", staff.desk.today)
title, back, date_box, ahead = st.columns([5, 0.4, 1.2, 0.4], vertical_alignment="bottom")
back.button("◀", key="cal_prev_day", help="Previous day", on_click=shift, args=(-1,))
ahead.button("▶", key="cal_next_day", help="Next day", on_click=shift, args=(1,))
on_date = date_box.date_input(
    "Date", key="cal_date", format="DD/MM/YYYY", label_visibility="collapsed"
)
title.markdown(
    f'### Calendar <span class="ql-sub">{on_date:%A %d %B} · {staff.branch_name}</span>',
    unsafe_allow_html=True,
)
st.markdown(panel.GRID_CSS, unsafe_allow_html=True)


def load() -> DayCalendar | None:
    try:
        with rt.db.transaction(staff.actor.tenant_id, readonly=True) as session:
            return day_calendar(session, staff.actor, branch_id=branch_id, on_date=on_date)
    except DomainError as exc:
        st.error(exc.message)
        return None


cal = load()
if cal is None:
    st.stop()
grid_col, side_col = st.columns([3.3, 1.4], gap="medium")
with side_col:
    panel.side_panel(rt, staff, cal)
with grid_col:
    if not cal.doctors:
        st.info(f"No doctor works at {staff.branch_name} on {on_date:%A %d %B}.")
    else:
        panel.grid(rt, staff, cal)
