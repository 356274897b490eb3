"""The consultation room: the doctor's day on the left, the patient with them on the right."""

from __future__ import annotations

import streamlit as st

from apps.common import auth
from apps.common.runtime import runtime
from apps.doctor import current, queue_panel
from apps.reception.live_queues import snapshot
from core.errors import DomainError

rt = runtime()
staff = auth.current()
doctor_id, branch_id = staff.actor.doctor_id, staff.branch_id
if doctor_id is None or branch_id is None:
    st.info("Your doctor profile has no branch yet; ask the clinic admin.")
    st.stop()

patients = current.room(rt, doctor_id)
st.session_state[queue_panel.ROOM_KEY] = tuple(sorted(p.token_id for p in patients))
try:
    snap = snapshot(rt, staff.actor, branch_id)
    colleagues = {
        lane.doctor_id: lane.doctor for lane in snap.board.lanes if lane.doctor_id != doctor_id
    }
except DomainError as exc:
    st.error(exc.message)
    colleagues = {}

left, right = st.columns([1, 2.9], gap="medium")
with left:
    queue_panel.day_panel(rt, doctor_id, branch_id)
with right:
    patient = current.choose(patients)
    if patient is None:
        st.markdown("### No patient with you")
        st.caption("Call the next patient (Alt+N) when you are ready.")
    else:
        current.header(patient)
        current.token_actions(rt, patient, colleagues)
