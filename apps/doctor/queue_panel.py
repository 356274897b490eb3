"""The doctor's day column: call next, pause, the own queue, the department pool, missed ones.

A fragment ticking every two seconds on the desk's shared snapshot (cached per branch and
newest queue event, so a doctor's page adds no reads of its own while nothing moves). When
the patients in the room change (the desk called for this doctor), the whole page reruns so
the patient panel follows.
"""

from __future__ import annotations

import datetime as dt
from html import escape
from zoneinfo import ZoneInfo

import streamlit as st

from apps.common import auth
from apps.common.runtime import Runtime
from apps.doctor import results
from apps.doctor.look import kind_tag
from apps.reception.live_queues import act, snapshot
from core.clinical.doctor_view import IN_ROOM
from core.clinical.lab_returns import ResultsBack
from core.errors import DomainError
from core.queue.calling import call_next
from core.queue.desk_view import DeskSnapshot, DeskToken
from core.queue.doctor_day import pause_doctor, resume_doctor
from core.queue.lifecycle import recall_token

TICK = dt.timedelta(seconds=2)
ROOM_KEY = "qlink_doctor_room"  # serving token ids the page last rendered
SHOWN = 8


def serving_ids(snap: DeskSnapshot, doctor_id: int) -> tuple[int, ...]:
    """The doctor's tokens being served (called, in consultation, at the lab), by id."""
    return tuple(
        sorted(t.id for t in snap.tokens if t.doctor_id == doctor_id and t.status in IN_ROOM)
    )


def _rows(tokens: list[DeskToken], zone: ZoneInfo, ready: dict[int, ResultsBack]) -> str:
    rows = []
    for t in tokens[:SHOWN]:
        eta = f"{t.eta.astimezone(zone):%H:%M}" if t.eta else ""
        mark = results.tag(ready.get(t.id)) or kind_tag(t.kind)
        below = f'<span class="qd-mark">{mark}</span>' if mark else ""  # never cut by a long name
        rows.append(
            f'<div class="qd-row"><span class="qd-code">{escape(t.code)}</span>'
            f'<span class="qd-who">{escape(t.patient_name)}</span>'
            f'<span class="qd-eta">{eta}</span>{below}</div>'
        )
    more = len(tokens) - SHOWN
    if more > 0:
        rows.append(f'<div class="qd-muted">… and {more} more</div>')
    return f'<div class="qd-q">{"".join(rows)}</div>'


def _by_eta(tokens: list[DeskToken]) -> list[DeskToken]:
    far = dt.datetime.max.replace(tzinfo=dt.UTC)
    return sorted(tokens, key=lambda t: (t.eta or far, t.code))


@st.fragment(run_every=TICK)
def day_panel(rt: Runtime, doctor_id: int, branch_id: int) -> None:
    """Render the doctor's queue column with call next and pause; ticks every ``TICK``."""
    staff = auth.recheck(rt, touch=False)
    try:
        snap = snapshot(rt, staff.actor, branch_id)
    except DomainError as exc:
        st.error(exc.message)
        return
    if st.session_state.get(ROOM_KEY) not in (None, serving_ids(snap, doctor_id)):
        st.rerun(scope="app")  # someone called or finished for this doctor elsewhere
    zone = ZoneInfo(staff.desk.timezone if staff.desk else "UTC")
    lane = next((lane for lane in snap.board.lanes if lane.doctor_id == doctor_id), None)
    mine = _by_eta([t for t in snap.tokens if t.doctor_id == doctor_id and t.status == "waiting"])
    dept = lane.department_id if lane else None
    pool = _by_eta(
        [
            t
            for t in snap.tokens
            if t.doctor_id is None and t.department_id == dept and t.status == "waiting"
        ]
    )
    paused = bool(lane and lane.paused)
    ready = results.back(rt, doctor_id, snap.event_id)
    if lane is not None and staff.desk is not None:
        where = " · ".join(p for p in (lane.doctor, lane.room, f"{staff.desk.today:%a %d %b}") if p)
        st.markdown(f'<div class="qd-muted">{escape(where)}</div>', unsafe_allow_html=True)
    call, pause = st.columns([1.6, 1], gap="xsmall")
    if call.button(
        f"Call next ({len(mine) + len(pool)})",
        key="doc_call_next",
        type="primary",
        icon=":material/campaign:",
        shortcut="Alt+N",
        help="Call your next patient (Alt+N); a paused queue resumes",
        disabled=not (mine or pool),
        width="stretch",
    ) and act(rt, "Called the next patient", call_next, doctor_id=doctor_id):
        st.rerun(scope="app")
    if paused:
        if pause.button("Resume", key="doc_resume", icon=":material/play_arrow:", width="stretch"):
            act(rt, "Queue resumed", resume_doctor, doctor_id=doctor_id)
            st.rerun(scope="app")
    elif pause.button("Pause", key="doc_pause", icon=":material/pause:", width="stretch"):
        act(rt, "Queue paused", pause_doctor, doctor_id=doctor_id)
        st.rerun(scope="app")
    if paused:
        st.warning("Your queue is paused: patients see the delay.", icon=":material/pause:")
    st.markdown(
        f'<div class="qd-title">My queue · {len(mine)} waiting</div>', unsafe_allow_html=True
    )
    st.markdown(
        _rows(mine, zone, ready) if mine else '<div class="qd-muted">Nobody waiting for you.</div>',
        unsafe_allow_html=True,
    )
    if pool:
        code = lane.department_code if lane else ""
        st.markdown(
            f'<div class="qd-title">{escape(code)} pool · {len(pool)} waiting</div>',
            unsafe_allow_html=True,
        )
        st.markdown(_rows(pool, zone, ready), unsafe_allow_html=True)
    missed = [t for t in snap.tokens if t.doctor_id == doctor_id and t.status == "missed"]
    if missed:
        st.markdown(f'<div class="qd-title">Missed · {len(missed)}</div>', unsafe_allow_html=True)
        for t in missed:
            name, button = st.columns([2.4, 1], vertical_alignment="center", gap="xsmall")
            name.markdown(f"**{t.code}** {escape(t.patient_name)}")
            if button.button("Recall", key=f"doc_recall_{t.id}", width="stretch"):
                act(rt, f"{t.code} is back in your queue", recall_token, token_id=t.id)
                st.rerun(scope="app")
