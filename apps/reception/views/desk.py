"""The desk: the receptionist's home. Find or register, give a token, run the queues.

Left: patient search as you type, register-on-the-spot, token or check-in, the slip.
Right: every doctor's live queue with call next, pause and delay, and the token actions.
"""

from __future__ import annotations

from html import escape

import streamlit as st

from apps.common import auth
from apps.common.runtime import runtime
from apps.reception import front_desk, live_queues
from core.errors import DomainError

rt = runtime()
staff = auth.current()
branch_id = staff.branch_id
if staff.desk is None or branch_id is None:
    st.info("This clinic has no branches yet.")
    st.stop()

try:
    snap = live_queues.snapshot(rt, staff.actor, branch_id)
except DomainError as exc:
    st.error(exc.message)
    snap = None

left, right = st.columns([1, 1.45], gap="medium")
with left:
    st.markdown(
        f'### Desk <span class="ql-sub">{escape(staff.branch_name)} · '
        f"{staff.desk.today:%a %d %b}</span>",
        unsafe_allow_html=True,
    )
    front_desk.find_patient(rt, snap)
with right:
    live_queues.live_queues(rt, branch_id)
