"""Lab results in the room: the patients back from the lab in the queue column, and the
visit's results table (value, unit, range, flag) beside the patient at a glance.

``results_back`` is read with the queue (once per newest queue event, not per tick);
``consultation_results`` is audited, so it is read once per visit and token state (the
patient coming back from the lab reads it afresh), not on every rerun of the form.
"""

from __future__ import annotations

from html import escape
from zoneinfo import ZoneInfo

import streamlit as st

from apps.common.runtime import Runtime
from core.clinical.lab_returns import ResultsBack, results_back
from core.clinical.lab_worklist import ResultLine, consultation_results
from core.errors import DomainError

BACK = "qlink_doctor_results_back"  # (doctor, event id) → tokens with results ready
LINES = "qlink_doctor_results"  # (consultation, token state) → result lines


def back(rt: Runtime, doctor_id: int, event_id: int) -> dict[int, ResultsBack]:
    """The doctor's tokens whose results are ready, read again only when the queue moved."""
    cached = st.session_state.get(BACK)
    if cached is not None and cached[0] == (doctor_id, event_id):
        return cached[1]  # type: ignore[no-any-return]
    staff = st.session_state["qlink_staff"]
    try:
        with rt.db.transaction(staff.actor.tenant_id, readonly=True) as session:
            found = results_back(session, staff.actor, doctor_id=doctor_id)
    except DomainError:
        return {}  # the mark is a hint; the queue itself still shows
    st.session_state[BACK] = ((doctor_id, event_id), found)
    return found


def tag(ready: ResultsBack | None) -> str:
    """The queue row's mark: 'results ready', red with the count when any is abnormal."""
    if ready is None:
        return ""
    if ready.abnormal:
        text, colour = f"results ready · {ready.abnormal} abnormal", "#b91c1c"
    else:
        text, colour = "results ready", "#15803d"
    return f'<span class="ql-chip qd-ready" style="background:{colour};color:#fff">{text}</span>'


def lines(rt: Runtime, consultation_id: int, state: str) -> list[ResultLine]:
    """The visit's tests with their results (an audited read, once per visit and token state)."""
    cached = st.session_state.get(LINES)
    if cached is not None and cached[0] == (consultation_id, state):
        return cached[1]  # type: ignore[no-any-return]
    staff = st.session_state["qlink_staff"]
    try:
        with rt.db.transaction(staff.actor.tenant_id) as session:
            found = consultation_results(session, staff.actor, consultation_id=consultation_id)
    except DomainError as exc:
        st.error(exc.message)
        return []
    st.session_state[LINES] = ((consultation_id, state), found)
    return found


def forget() -> None:
    st.session_state.pop(LINES, None)


def _range(line: ResultLine) -> str:
    low, high = line.ref_low, line.ref_high
    if low is not None and high is not None:
        return f"{low:g}–{high:g}"
    if high is not None:
        return f"< {high:g}"
    if low is not None:
        return f"> {low:g}"
    return ""


def table(found: list[ResultLine], zone: ZoneInfo) -> None:
    """The results of this visit: abnormal rows in red with the flag, pending ones greyed."""
    if not found:
        return
    done = [r for r in found if r.value is not None]
    rows = []
    for r in found:
        if r.value is None:
            cells = (escape(r.test_name), '<span class="qd-muted">pending</span>', "", "")
            rows.append(f"<tr>{''.join(f'<td>{c}</td>' for c in cells)}</tr>")
            continue
        value = escape(f"{r.value} {r.unit or ''}".strip())
        flag = f"<b>{escape(r.abnormal.upper())}</b>" if r.abnormal else ""
        style = ' class="qd-abnormal"' if r.abnormal else ""
        cells = (escape(r.test_name), value, _range(r), flag)
        rows.append(f"<tr{style}>{''.join(f'<td>{c}</td>' for c in cells)}</tr>")
    last = max((r.resulted_at for r in done if r.resulted_at), default=None)
    when = f" · back {last.astimezone(zone):%H:%M}" if last else ""
    head = "".join(f"<th>{h}</th>" for h in ("Test", "Result", "Range", "Flag"))
    st.markdown(
        f'<div class="qd-title">Lab results · {len(done)} of {len(found)}{when}</div>'
        f'<table class="qd-results"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>",
        unsafe_allow_html=True,
    )
