"""The lab page's pieces: an open order with its entry form, and a result line."""

from __future__ import annotations

import datetime as dt
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

import streamlit as st

from apps.common.runtime import Runtime
from apps.reception.live_queues import act
from core.clinical.lab import enter_result
from core.clinical.lab_worklist import ResultLine, WorklistItem
from core.context import Actor

NOTICE = "qlink_lab_notice"


def reference(low: float | None, high: float | None, unit: str | None) -> str:
    """'70–100 mg/dL', '< 200 mg/dL', '> 40 mg/dL' or '' for a report."""
    tail = f" {unit}" if unit else ""
    if low is not None and high is not None:
        return f"{low:g}–{high:g}{tail}"
    if high is not None:
        return f"< {high:g}{tail}"
    if low is not None:
        return f"> {low:g}{tail}"
    return ""


def minutes(seconds: float) -> str:
    """A duration as '42 min' or '1 h 05 min'."""
    total = max(0, int(seconds // 60))
    return f"{total} min" if total < 60 else f"{total // 60} h {total % 60:02d} min"


def order_card(rt: Runtime, item: WorklistItem, zone: ZoneInfo, now: dt.datetime) -> None:
    """One open order: who, what, since when, and the result form."""
    with st.container(border=True):
        who, form = st.columns([1.25, 1], gap="small")
        with who:
            urgent = ' <span class="ql-chip" style="background:#b91c1c;color:#fff">URGENT</span>'
            age = " · ".join(x for x in (f"{item.age} y" if item.age else "", _sex(item)) if x)
            st.markdown(
                f"**{escape(item.test_name)}**{urgent if item.urgent else ''}  \n"
                f"{escape(item.patient_name)} · {escape(item.patient_code)}"
                f"{' · ' + age if age else ''}"
                f"{' · token ' + escape(item.token_code) if item.token_code else ''}",
                unsafe_allow_html=True,
            )
            st.caption(
                f"{item.doctor_name} · ordered {item.ordered_at.astimezone(zone):%H:%M} · "
                f"waiting {minutes((now - item.ordered_at).total_seconds())}"
            )
        with form:
            _form(rt, item)


def _form(rt: Runtime, item: WorklistItem) -> None:
    with st.form(f"lab_form_{item.order_id}", border=False):
        field, button = st.columns([3, 1.1], vertical_alignment="bottom")
        with field:
            if item.result_kind == "text":
                value = st.text_area("Report", key=f"lab_value_{item.order_id}", height=68)
            else:
                label = f"Value ({item.unit})" if item.unit else "Value"
                value = st.text_input(label, key=f"lab_value_{item.order_id}")
        with button:
            saved = st.form_submit_button("Save", type="primary", use_container_width=True)
        ref = reference(item.ref_low, item.ref_high, item.unit)
        if item.result_kind != "text":
            st.caption(f"Reference {ref}" if ref else "No reference range")
    if saved and act(
        rt,
        f"{item.test_name}: result saved",
        _enter,
        order_id=item.order_id,
        value=value,
        unit=item.unit,
        test_name=item.test_name,
    ):
        st.rerun()


def _enter(session: Any, actor: Actor, *, test_name: str, **kwargs: Any) -> None:
    entered = enter_result(session, actor, **kwargs)
    flag = f" — {entered.abnormal.upper()}" if entered.abnormal else ""
    back = " The patient is back in the doctor's queue." if entered.returned_to_doctor else ""
    st.session_state[NOTICE] = (
        f"{test_name} saved{flag} · turnaround {minutes(entered.turnaround_seconds)}.{back}"
    )


def result_line(line: ResultLine, patient: str, zone: ZoneInfo) -> str:
    """A done result as markdown: abnormal values in red with LOW/HIGH."""
    value = escape(f"{line.value} {line.unit or ''}".strip())
    if line.abnormal:
        value = f":red[**{value} {line.abnormal.upper()}**]"
    ref = reference(line.ref_low, line.ref_high, line.unit)
    at = line.resulted_at.astimezone(zone).strftime("%H:%M") if line.resulted_at else ""
    took = minutes(line.turnaround_seconds or 0)
    return (
        f"{at} · **{escape(line.test_name)}** · {escape(patient)} · {value}"
        f"{' (ref ' + ref + ')' if ref else ''} · turnaround {took}"
    )


def _sex(item: WorklistItem) -> str:
    return {"female": "F", "male": "M"}.get(item.gender or "", "")
