"""The lab technician's page: today's open orders (oldest first) with result entry, then the
results entered today with abnormal values in red and each test's turnaround."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import streamlit as st

from apps.common import auth
from apps.common.runtime import runtime
from apps.lab import entry
from core.clinical.lab_worklist import lab_worklist, resulted_today
from core.errors import DomainError

rt = runtime()
staff = auth.current()
branch_id = staff.branch_id
if branch_id is None or staff.desk is None:
    st.info("Your account has no branch yet; ask the clinic admin.")
    st.stop()
zone = ZoneInfo(staff.desk.timezone)


@st.fragment(run_every=15)
def worklist() -> None:
    """Open orders, re-read every 15 s so new orders appear without a click."""
    actor = auth.recheck(rt, touch=False).actor
    try:
        with rt.db.transaction(actor.tenant_id, readonly=True) as session:
            items = lab_worklist(session, actor, branch_id=branch_id)
    except DomainError as exc:
        st.error(exc.message)
        return
    st.markdown(
        f"### Worklist <span class='ql-sub'>{len(items)} open</span>", unsafe_allow_html=True
    )
    if not items:
        st.caption("No open orders. New orders from the doctors appear here.")
    now = actor.clock()
    for item in items:
        entry.order_card(rt, item, zone, now)


def done() -> None:
    actor = staff.actor
    try:
        with rt.db.transaction(actor.tenant_id) as session:
            lines = resulted_today(session, actor, branch_id=branch_id)
    except DomainError as exc:
        st.error(exc.message)
        return
    st.markdown(f"### Done today <span class='ql-sub'>{len(lines)}</span>", unsafe_allow_html=True)
    if not lines:
        st.caption("Results you enter today are listed here.")
    for item in lines:
        st.markdown(entry.result_line(item.line, item.patient_name, zone))


notice = st.session_state.pop(entry.NOTICE, None)
if notice:
    st.success(notice)
left, right = st.columns([1.6, 1], gap="medium")
with left:
    worklist()
with right:
    done()
