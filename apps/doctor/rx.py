"""The prescription builder: a line per medicine typed in one row (Enter adds it), remove,
repeat the last prescription or re-prescribe a past one, advice.

The lines are a draft in the session until the visit is saved or finished.
"""

from __future__ import annotations

from html import escape

import streamlit as st

from apps.common.runtime import Runtime
from apps.doctor import rx_sources
from apps.doctor.glance import medicine_text
from apps.doctor.record import Saved
from core.clinical.medicines import TIMINGS, MedicineLine, check_pattern
from core.errors import DomainError

FOOD = [None, *TIMINGS]


def draft_key(cid: int) -> str:
    return f"qlink_doctor_rx_{cid}"


def draft(record: Saved) -> list[MedicineLine]:
    """The lines being written (the saved prescription's lines at first)."""
    key = draft_key(record.consultation_id)
    if key not in st.session_state:
        st.session_state[key] = list(record.lines)
    lines: list[MedicineLine] = st.session_state[key]
    return lines


def replace(cid: int, lines: tuple[MedicineLine, ...]) -> None:
    st.session_state[draft_key(cid)] = list(lines)


def builder(rt: Runtime, record: Saved, last: tuple[MedicineLine, ...] | None) -> None:
    """Render the draft lines, the add row and repeat-last."""
    cid = record.consultation_id
    lines = draft(record)
    title, repeat = st.columns([3, 1.4], vertical_alignment="bottom", gap="xsmall")
    title.markdown(
        f'<div class="qd-title">Prescription · {len(lines)}</div>', unsafe_allow_html=True
    )
    if repeat.button(
        "Repeat last",
        key=f"doc_rx_repeat_{cid}",
        icon=":material/replay:",
        disabled=not last,
        help="Copy the previous prescription's medicines",
        width="stretch",
    ):
        replace(cid, last or ())
        st.rerun()
    for i, line in enumerate(lines):
        text, remove = st.columns([8, 1], vertical_alignment="center", gap="xsmall")
        extra = (
            f' <span class="qd-muted">{escape(line.instructions)}</span>'
            if line.instructions
            else ""
        )
        text.markdown(f"{i + 1}. {escape(medicine_text(line))}{extra}", unsafe_allow_html=True)
        if remove.button("✕", key=f"doc_rx_del_{cid}_{i}", help="Remove this medicine"):
            del lines[i]
            st.rerun()
    rx_sources.formulary_picker(rt, cid, lines)
    _add_row(cid, lines)
    rx_sources.favourites(rt, cid, lines)
    st.text_area(
        "Advice",
        key=f"doc_advice_{cid}",
        height=68,
        placeholder="e.g. Apply hot compress twice daily",
    )


def _add_row(cid: int, lines: list[MedicineLine]) -> None:
    with st.form(f"doc_rx_form_{cid}", clear_on_submit=True, border=False):
        name, strength, dose, food, days = st.columns([3, 1.3, 1.2, 1.6, 0.9], gap="xsmall")
        medicine = name.text_input("Medicine", key=f"doc_rx_med_{cid}", placeholder="Ibuprofen")
        power = strength.text_input("Strength", key=f"doc_rx_str_{cid}", placeholder="400mg")
        pattern = dose.text_input("Dose", key=f"doc_rx_dose_{cid}", value="1-0-1")
        timing = food.selectbox(
            "Food",
            FOOD,
            index=FOOD.index("after_food"),
            format_func=lambda t: "—" if t is None else TIMINGS[t],
            key=f"doc_rx_food_{cid}",
        )
        course = days.number_input("Days", 1, 365, 5, key=f"doc_rx_days_{cid}")
        note, add = st.columns([5, 1.4], vertical_alignment="bottom", gap="xsmall")
        instructions = note.text_input(
            "Instructions", key=f"doc_rx_note_{cid}", placeholder="optional"
        )
        if add.form_submit_button("Add", icon=":material/add:", width="stretch"):
            if not medicine.strip():
                st.error("Type the medicine's name")
                return
            try:
                pattern = check_pattern(pattern, "Dose")
            except DomainError as exc:
                st.error(exc.message)
                return
            lines.append(
                MedicineLine(
                    medicine=medicine.strip(),
                    dosage_pattern=pattern,
                    strength=power.strip() or None,
                    timing=timing,
                    duration_days=int(course) if course else None,
                    instructions=instructions.strip() or None,
                )
            )
            st.rerun()
