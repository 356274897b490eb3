"""The desk's live queues: one card per doctor, refreshed only when the branch's queue moved.

Every open desk ticks this fragment; the tick reads the branch's newest queue event id (cached
for a second, so all desks of a process share one read) and the snapshot is cached by
(branch, event id), so a branch's queues are read once per queue event, not once per desk.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from html import escape
from zoneinfo import ZoneInfo

import streamlit as st
from streamlit.errors import StreamlitAPIException

from apps.common import auth
from apps.common.runtime import Runtime
from core.context import Actor
from core.errors import DomainError
from core.queue.calling import call_next
from core.queue.desk_view import DeskSnapshot, DeskToken, desk_snapshot, latest_event_id
from core.queue.doctor_day import announce_delay, pause_doctor, resume_doctor
from core.queue.lifecycle import cancel_token, mark_missed, recall_token, transfer_token
from core.signage.lanes import Lane

TICK = dt.timedelta(seconds=2)
PER_ROW = 2
ACTED = "qlink_desk_acted"  # set after this desk's own action: read the head uncached once
SEEN = "qlink_desk_head"  # the newest head this desk has read itself
STATUS = {  # SPEC's colours: grey waiting, green called, amber in consultation
    "waiting": ("#4b5563", "Waiting"),
    "called": ("#15803d", "Called"),
    "in_consultation": ("#b45309", "In consultation"),
    "at_lab": ("#6d28d9", "At lab"),
    "missed": ("#b91c1c", "Missed"),
}


# The database URL is in each key: one process may serve (or test) several databases.
@st.cache_data(ttl=1, show_spinner=False, max_entries=256)
def _cached_head(db: str, tenant_id: int, branch_id: int, _rt: Runtime, _actor: Actor) -> int:
    return _head(_rt, _actor, branch_id)


def _head(rt: Runtime, actor: Actor, branch_id: int) -> int:
    with rt.db.transaction(actor.tenant_id, readonly=True) as session:
        return latest_event_id(session, actor, branch_id=branch_id)


@st.cache_data(ttl=300, show_spinner=False, max_entries=64)
def _snapshot(
    db: str, tenant_id: int, branch_id: int, event_id: int, _rt: Runtime, _actor: Actor
) -> DeskSnapshot:
    with _rt.db.transaction(tenant_id, readonly=True) as session:
        return desk_snapshot(session, _actor, branch_id=branch_id)


def snapshot(rt: Runtime, actor: Actor, branch_id: int) -> DeskSnapshot:
    """Return the branch's shared snapshot as of its newest queue event."""
    assert actor.tenant_id is not None
    if st.session_state.pop(ACTED, False):
        head = _head(rt, actor, branch_id)
        st.session_state[SEEN] = head  # the shared cached head may lag this desk's own action
    else:
        head = _cached_head(rt.settings.database_url, actor.tenant_id, branch_id, rt, actor)
        head = max(head, st.session_state.get(SEEN, 0))
    return _snapshot(rt.settings.database_url, actor.tenant_id, branch_id, head, rt, actor)


def act(rt: Runtime, done: str, command: Callable[..., object], **kwargs: object) -> bool:
    """Run one core command for the signed-in user in a transaction; toast or show the error."""
    staff = auth.recheck(rt, touch=True)
    try:
        with rt.db.transaction(staff.actor.tenant_id) as session:
            command(session, staff.actor, **kwargs)
    except DomainError as exc:
        st.error(exc.message)
        return False
    st.session_state[ACTED] = True
    st.toast(done, icon=":material/check_circle:")
    return True


def refresh() -> None:
    """Rerun only the fragment this action came from (the whole page on a full run)."""
    try:
        st.rerun(scope="fragment")
    except StreamlitAPIException:  # not inside a fragment rerun (a full run, or AppTest)
        st.rerun()


def chip(status: str, text: str) -> str:
    colour, _ = STATUS.get(status, ("#334155", status))
    return f'<span class="ql-chip" style="background:{colour};color:#fff">{escape(text)}</span>'


def lane_card(lane: Lane, zone: ZoneInfo) -> str:
    state = ""
    if lane.paused:
        state = chip("missed", "⏸ Paused")
    elif lane.delay_minutes:
        state = chip("in_consultation", f"⏱ Delayed {lane.delay_minutes} min")
    serving = " ".join(chip(t.status, f"{t.code} {t.name}") for t in lane.serving) or "—"
    nxt = " ".join(chip("waiting", t.code) for t in lane.next[:4]) or "none waiting"
    room = f" · {escape(lane.room)}" if lane.room else ""
    return (
        f'<div class="ql-lane"><div class="ql-lane-head"><b>{escape(lane.doctor)}</b>'
        f'<span class="ql-sub">{escape(lane.department_code)}{room}</span> {state}'
        f'<span class="ql-count">{lane.waiting} waiting</span></div>'
        f'<div class="ql-line">Now: {serving}</div><div class="ql-line">Next: {nxt}</div></div>'
    )


def doctor_controls(rt: Runtime, lane: Lane, index: int) -> None:
    call, pause, delay = st.columns([1.5, 1, 1], gap="xsmall")
    hotkey = f"Alt+{index + 1}" if index < 9 else None
    if call.button(
        "Call next",
        key=f"call_{lane.doctor_id}",
        type="primary",
        icon=":material/campaign:",
        shortcut=hotkey,
        help=f"Call the next patient to {lane.doctor}" + (f" ({hotkey})" if hotkey else ""),
        disabled=lane.paused,
        width="stretch",
    ):
        act(rt, f"Called the next patient for {lane.doctor}", call_next, doctor_id=lane.doctor_id)
        refresh()
    if lane.paused:
        if pause.button("Resume", key=f"resume_{lane.doctor_id}", width="stretch"):
            act(rt, f"{lane.doctor} resumed", resume_doctor, doctor_id=lane.doctor_id)
            refresh()
    elif pause.button("Pause", key=f"pause_{lane.doctor_id}", width="stretch"):
        act(rt, f"{lane.doctor} paused", pause_doctor, doctor_id=lane.doctor_id)
        refresh()
    with delay.popover("Delay", width="stretch"):
        minutes = st.number_input(
            "Minutes late", 5, 360, 15, step=5, key=f"delay_min_{lane.doctor_id}"
        )
        if st.button("Tell waiting patients", key=f"delay_{lane.doctor_id}"):
            act(
                rt,
                f"Delay of {minutes} min announced",
                announce_delay,
                doctor_id=lane.doctor_id,
                minutes=int(minutes),
            )
            refresh()


def token_actions(rt: Runtime, snap: DeskSnapshot, zone: ZoneInfo) -> None:
    """One open token picked by code, and what the desk may do with it."""
    tokens = {t.id: t for t in snap.tokens}
    if not tokens:
        st.caption("No open tokens today.")
        return
    pick, *buttons = st.columns([3, 1, 1, 1, 1.3], vertical_alignment="bottom", gap="xsmall")
    token_id = pick.selectbox(
        "Token", list(tokens), format_func=lambda i: _label(tokens[i]), key="desk_token"
    )
    token = tokens.get(token_id) if token_id is not None else None
    if token is None:
        return
    recall, missed, cancel, move = buttons
    if recall.button("Recall", key="tok_recall", disabled=token.status != "missed"):
        act(rt, f"{token.code} recalled", recall_token, token_id=token.id)
        refresh()
    if missed.button("Missed", key="tok_missed", disabled=token.status != "called"):
        act(rt, f"{token.code} marked missed", mark_missed, token_id=token.id)
        refresh()
    if cancel.button(
        "Cancel", key="tok_cancel", disabled=token.status not in ("waiting", "called")
    ):
        act(rt, f"{token.code} cancelled", cancel_token, token_id=token.id)
        refresh()
    with move.popover("Transfer", disabled=token.status != "waiting", width="stretch"):
        doctors = {lane.doctor_id: lane.doctor for lane in snap.board.lanes}
        doctors.pop(token.doctor_id or 0, None)
        to = st.selectbox("To doctor", list(doctors), format_func=doctors.get, key="tok_to")
        if st.button("Transfer", key="tok_transfer", disabled=to is None):
            act(rt, f"{token.code} transferred", transfer_token, token_id=token.id, to_doctor_id=to)
            refresh()


def _label(token: DeskToken) -> str:
    _, status = STATUS.get(token.status, ("", token.status))
    return f"{token.code} · {token.patient_name} · {status}"


@st.fragment(run_every=TICK)
def live_queues(rt: Runtime, branch_id: int) -> None:
    """Render every doctor's queue with its controls; ticks every ``TICK``."""
    staff = auth.recheck(rt, touch=False)
    try:
        snap = snapshot(rt, staff.actor, branch_id)
    except DomainError as exc:
        st.error(exc.message)
        return
    zone = ZoneInfo(staff.desk.timezone if staff.desk else "UTC")
    lanes = snap.board.lanes
    if not lanes:
        st.info("No doctor works at this branch today.")
    for start in range(0, len(lanes), PER_ROW):
        row = lanes[start : start + PER_ROW]
        for column, (index, lane) in zip(
            st.columns(PER_ROW, gap="small"), enumerate(row, start), strict=False
        ):
            with column.container(key=f"lane_{lane.doctor_id}", gap="xxsmall"):
                st.markdown(lane_card(lane, zone), unsafe_allow_html=True)
                doctor_controls(rt, lane, index)
    pools = " ".join(
        chip("waiting", f"{p.department_code} pool: {p.waiting}") for p in snap.board.pools
    )
    if pools:
        st.markdown(pools, unsafe_allow_html=True)
    token_actions(rt, snap, zone)
