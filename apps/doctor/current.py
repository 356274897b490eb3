"""The patient in the room: who they are, and the token's next step (start, missed, lab, finish).

The finish button lives with the consultation form (it records the visit); this header only
moves the token: a called patient walks in (start) or does not come (missed), a patient
waiting may be handed to a colleague, and a patient in consultation may be sent to the lab.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape

import streamlit as st

from apps.common.runtime import Runtime
from apps.doctor.look import kind_tag
from apps.doctor.record import open_visit
from apps.reception.live_queues import act
from core.clinical.doctor_view import RoomPatient, in_room
from core.errors import DomainError
from core.queue.lifecycle import mark_missed, send_to_lab, transfer_token

PICK = "qlink_doctor_pick"
GENDER = {"m": "M", "f": "F", "male": "M", "female": "F", "o": "Other", "other": "Other"}
STATUS = {"called": "Called", "in_consultation": "In consultation", "at_lab": "At the lab"}


def room(rt: Runtime, doctor_id: int) -> list[RoomPatient]:
    """Read the doctor's patients being served now (one small query per page run)."""
    staff = st.session_state["qlink_staff"]
    try:
        with rt.db.transaction(staff.actor.tenant_id, readonly=True) as session:
            return in_room(session, staff.actor, doctor_id=doctor_id)
    except DomainError as exc:
        st.error(exc.message)
        return []


def choose(patients: list[RoomPatient]) -> RoomPatient | None:
    """The patient the doctor is looking at: in consultation first, else the newest call."""
    if not patients:
        return None
    order = sorted(patients, key=lambda p: ("in_consultation", "called", "at_lab").index(p.status))
    if len(order) == 1:
        return order[0]
    by_id = {p.token_id: p for p in order}
    picked = st.segmented_control(
        "Patients with you",
        list(by_id),
        format_func=lambda i: (
            f"{by_id[i].code} {by_id[i].patient_name} · {STATUS[by_id[i].status]}"
        ),
        default=order[0].token_id,
        key=PICK,
    )
    return by_id.get(picked or order[0].token_id, order[0])


def header(patient: RoomPatient) -> None:
    """The patient's name, age, sex, code and token in large type."""
    facts = " · ".join(
        part
        for part in (
            f"{patient.age} y" if patient.age is not None else None,
            GENDER.get((patient.gender or "").lower()),
            patient.patient_code,
            f"token {patient.code}",
            STATUS.get(patient.status, patient.status),
        )
        if part
    )
    st.markdown(
        f'<div class="qd-patient"><span class="qd-name">{escape(patient.patient_name)}</span> '
        f'{kind_tag(patient.kind)}<div class="qd-facts">{escape(facts)}</div></div>',
        unsafe_allow_html=True,
    )


def token_actions(rt: Runtime, patient: RoomPatient, colleagues: dict[int, str]) -> None:
    """The buttons that move the token: start / missed / transfer, or send to the lab."""
    if patient.status == "called":
        start, missed, move = st.columns([1.4, 1, 1], gap="xsmall")
        if start.button(
            "Start consultation",
            key="doc_start",
            type="primary",
            icon=":material/play_arrow:",
            shortcut="Alt+S",
            help="The patient walked in (Alt+S)",
            width="stretch",
        ) and open_visit(rt, patient.token_id, start=True):
            st.rerun()
        if missed.button("Missed", key="doc_missed", shortcut="Alt+M", width="stretch"):
            do(rt, f"{patient.code} marked missed", mark_missed, token_id=patient.token_id)
        with move.popover("Transfer", icon=":material/swap_horiz:", width="stretch"):
            transfer(rt, patient, colleagues)
    elif patient.status == "at_lab":
        st.info(
            f"{patient.code} is at the lab; they come back to your queue with priority "
            "when the lab returns them.",
            icon=":material/biotech:",
        )


def send_to_lab_button(rt: Runtime, token_id: int) -> None:
    """Send the patient to the lab without ordering here (the token is kept)."""
    if st.button("Send to lab", key="doc_to_lab", icon=":material/biotech:", width="stretch"):
        do(rt, "Sent to the lab", send_to_lab, token_id=token_id)


def do(rt: Runtime, done: str, command: Callable[..., object], **kwargs: object) -> None:
    """Run one core command for the doctor; on success rerun the page so the room follows."""
    if act(rt, done, command, **kwargs):
        st.rerun()


def transfer(rt: Runtime, patient: RoomPatient, colleagues: dict[int, str]) -> None:
    """Hand the called patient to another doctor at this branch."""
    if not colleagues:
        st.caption("No other doctor works here today.")
        return
    to = st.selectbox("To doctor", list(colleagues), format_func=colleagues.get, key="doc_to")
    reason = st.text_input("Reason (optional)", key="doc_transfer_reason", max_chars=200)
    if st.button("Transfer", key="doc_transfer", type="primary") and act(
        rt,
        f"{patient.code} transferred to {colleagues[to]}",
        transfer_token,
        token_id=patient.token_id,
        to_doctor_id=to,
        reason=reason.strip() or None,
    ):
        st.rerun()
