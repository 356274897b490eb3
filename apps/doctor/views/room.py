"""The consultation room: the doctor's day on the left, the patient with them on the right:
who they are, their history at a glance, and the visit's record being written."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import streamlit as st

from apps.common import auth
from apps.common.runtime import runtime
from apps.doctor import consult_form, current, glance, queue_panel, record, results
from apps.reception.live_queues import snapshot
from core.errors import DomainError

rt = runtime()
staff = auth.current()
doctor_id, branch_id = staff.actor.doctor_id, staff.branch_id
if doctor_id is None or branch_id is None or staff.desk is None:
    st.info("Your doctor profile has no branch yet; ask the clinic admin.")
    st.stop()
zone = ZoneInfo(staff.desk.timezone)

patients = current.room(rt, doctor_id)
st.session_state[queue_panel.ROOM_KEY] = tuple(sorted(p.token_id for p in patients))
try:
    lanes = snapshot(rt, staff.actor, branch_id).board.lanes
    colleagues = {lane.doctor_id: lane.doctor for lane in lanes if lane.doctor_id != doctor_id}
except DomainError as exc:
    st.error(exc.message)
    colleagues = {}

left, right = st.columns([1, 3.3], gap="medium")
with left:
    queue_panel.day_panel(rt, doctor_id, branch_id)
with right:
    consult_form.finished_notice()
    patient = current.choose(patients)
    if patient is None:
        st.subheader("No patient with you", anchor=False)
        st.caption("Call the next patient (Alt+N) when you are ready.")
        st.stop()
    current.header(patient)
    current.token_actions(rt, patient, colleagues)
    cid = record.open_visit(rt, patient.token_id) if patient.status == "in_consultation" else None
    saved = record.saved(rt, cid) if cid is not None else None
    if saved is not None:
        consult_form.action_bar(rt, saved, patient, zone)
    summary = glance.load(rt, patient.patient_id, patient.token_id)
    history, visit = st.columns([1, 1.75], gap="medium")
    with history:
        if summary is not None:
            glance.facts(summary)
            if cid is not None and patient.kind == "lab_return":  # back from the lab
                results.table(results.lines(rt, cid, patient.status), zone)
            lines = glance.timeline(rt, summary, zone, current=cid, can_copy=cid is not None)
            if lines and cid is not None:
                consult_form.rx.replace(cid, lines)
                st.rerun()
    with visit:
        if saved is not None:
            consult_form.form(rt, saved, summary, staff.desk.today)
        elif patient.status == "called":
            st.caption("Start the consultation (Alt+S) when the patient walks in.")
