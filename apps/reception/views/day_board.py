"""Day board: every doctor's slots for a day at a branch, colour-coded by status."""

from __future__ import annotations

import datetime as dt
from html import escape

import streamlit as st

from apps.common import auth, widgets
from apps.common.runtime import runtime
from core.errors import DomainError
from core.scheduling.day_view import DayBoard, day_board

MIN_COLUMNS, MAX_COLUMNS = 4, 5
LIVE_EVERY = dt.timedelta(seconds=30)

rt = runtime()
staff = auth.current()
desk = staff.desk
if desk is None:  # the router shows this page only to clinic staff
    st.stop()

branch_id = staff.branch_id
if branch_id is None:
    st.info("This clinic has no branches yet.")
    st.stop()
title, date_box = st.columns([5, 1.2], vertical_alignment="bottom")
on_date = date_box.date_input("Date", value=desk.today, key="board_date", format="DD/MM/YYYY")
title.markdown(
    f'### Day board <span class="ql-sub">{on_date:%A %d %B} · {escape(staff.branch_name)}</span>',
    unsafe_allow_html=True,
)


def load(branch: int, day: dt.date) -> DayBoard | None:
    try:
        with rt.db.transaction(staff.actor.tenant_id, readonly=True) as session:
            return day_board(session, staff.actor, branch_id=branch, on_date=day)
    except DomainError as exc:
        st.error(exc.message)
        return None


@st.fragment(run_every=LIVE_EVERY if on_date == desk.today else None)
def show_board() -> None:
    auth.recheck(rt, touch=False)
    board = load(branch_id, on_date)
    if board is None:
        return
    st.markdown(widgets.legend(board), unsafe_allow_html=True)
    if not board.doctors:
        st.info(f"No doctor works at {board.branch_name} on {on_date:%A %d %B}.")
    # At least four columns so one or two doctors do not stretch across the screen.
    width = max(MIN_COLUMNS, min(len(board.doctors), MAX_COLUMNS))
    for start in range(0, len(board.doctors), width):
        chunk = board.doctors[start : start + width]
        for column, day in zip(st.columns(width, gap="small"), chunk, strict=False):
            column.markdown(widgets.doctor_card(day), unsafe_allow_html=True)
    if board.off_duty:
        st.caption("Not working this day: " + ", ".join(board.off_duty))


show_board()
