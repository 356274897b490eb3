"""Amend a finished visit from the timeline: its notes, a diagnosis (corrected or retracted)
or its prescription, always with a reason. Each change is a new version with the doctor, the
time and the reason; the earlier one stays in the record's history (core refuses a change
to a final record without a reason).

The visit's record is read (audited) only when the doctor presses Amend on it, and kept as
plain values until the panel is closed or a change is saved.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from typing import Any

import streamlit as st

from apps.common.runtime import Runtime
from apps.doctor.diagnosis import FREE_TEXT, matches
from apps.doctor.look import medicine_text
from apps.doctor.record import Saved, plain
from apps.reception.live_queues import act
from core.clinical.glance import Visit
from core.clinical.medicines import MedicineLine, check_pattern
from core.clinical.prescriptions import save_prescription
from core.clinical.records import amend_diagnosis, record_notes, retract_diagnosis
from core.clinical.views import consultation_record
from core.errors import DomainError

OPEN = "qlink_doctor_amending"  # (consultation id, its record as plain values)
PARTS = {
    "chief_complaint": "Chief complaint",
    "examination": "Examination",
    "treatment_plan": "Plan",
}
WHAT = {"notes": "Notes", "diagnosis": "Diagnosis", "prescription": "Prescription"}


def amend_button(rt: Runtime, visit: Visit) -> None:
    """The timeline's Amend: opens the panel for this visit (reads its record once)."""
    cid = visit.consultation_id
    if st.button("Amend", key=f"doc_amend_{cid}", icon=":material/edit_note:", type="tertiary"):
        staff = st.session_state["qlink_staff"]
        try:
            with rt.db.transaction(staff.actor.tenant_id) as session:
                record = plain(consultation_record(session, staff.actor, consultation_id=cid))
        except DomainError as exc:
            st.error(exc.message)
            return
        st.session_state[OPEN] = (cid, record)
        st.session_state[_key("rx", cid)] = list(record.lines)
        st.session_state[_key("advice", cid)] = record.advice or ""


def amending(cid: int) -> Saved | None:
    opened = st.session_state.get(OPEN)
    return opened[1] if opened is not None and opened[0] == cid else None  # type: ignore[no-any-return]


def _key(part: str, cid: int) -> str:
    return f"doc_am_{part}_{cid}"


def _closed() -> None:
    st.session_state.pop(OPEN, None)


def panel(rt: Runtime, record: Saved, when: str, on_done: Callable[[], None]) -> None:
    """The open amendment in a dialog over the room (closing it discards the change)."""
    st.dialog(f"Amend the visit of {when}", width="large", on_dismiss=_closed)(_panel)(
        rt, record, on_done
    )


def _panel(rt: Runtime, record: Saved, on_done: Callable[[], None]) -> None:
    """What to change, the reason, and the change itself."""
    cid = record.consultation_id
    with st.container(key=f"doc_am_box_{cid}"):
        what = st.segmented_control(
            "Change", list(WHAT), format_func=WHAT.get, default="notes", key=_key("what", cid)
        )
        reason = st.text_input("Reason (required)", key=_key("reason", cid), max_chars=300)
        done = False
        if what == "diagnosis":
            done = _diagnosis(rt, record, reason)
        elif what == "prescription":
            done = _prescription(rt, record, reason)
        else:
            done = _notes(rt, record, reason)
    if done:
        st.session_state.pop(OPEN, None)
        on_done()
        st.rerun()


def _notes(rt: Runtime, record: Saved, reason: str) -> bool:
    cid = record.consultation_id
    part = st.selectbox("Part", list(PARTS), format_func=PARTS.get, key=_key("part", cid))
    text = st.text_area(
        "Corrected text", key=_key("text", cid), height=68, placeholder=record.notes.get(part) or ""
    )
    if not st.button("Save amendment", key=_key("save", cid), type="primary"):
        return False
    if not text.strip():
        st.error("Type the corrected text")
        return False
    fields: dict[str, Any] = {part: text.strip()}
    return act(
        rt,
        "Amendment saved; the earlier version stays in the history",
        record_notes,
        consultation_id=cid,
        reason=reason,
        **fields,
    )


def _diagnosis(rt: Runtime, record: Saved, reason: str) -> bool:
    cid = record.consultation_id
    if not record.diagnoses:
        st.caption("This visit has no diagnosis to amend.")
        return False
    current = {d.id: d for d in record.diagnoses}
    picked = st.selectbox(
        "Diagnosis",
        list(current),
        format_func=lambda i: " ".join(
            x for x in (current[i].icd10_code, current[i].description) if x
        ),
        key=_key("dx", cid),
    )
    query = st.text_input(
        "Corrected to", key=_key("dx_q", cid), placeholder="ICD-10 code or words"
    ).strip()
    choice: str | None = None
    if len(query) >= 2:
        found = {c.code: c.title for c in matches(query)}
        choice = st.selectbox(
            "Matches",
            [*found, FREE_TEXT],
            format_func=lambda c: f'As typed: "{query}"' if c == FREE_TEXT else f"{c} · {found[c]}",
            key=_key("dx_pick", cid),
        )
    fix, drop = st.columns(2, gap="xsmall")
    if fix.button("Correct", key=_key("dx_save", cid), type="primary", disabled=choice is None):
        return act(
            rt,
            "Diagnosis corrected; the earlier one stays in the history",
            amend_diagnosis,
            diagnosis_id=picked,
            icd10_code=None if choice == FREE_TEXT else choice,
            description=query if choice == FREE_TEXT else None,
            reason=reason,
        )
    if drop.button("Retract", key=_key("dx_retract", cid), help="Made in error: withdraw it"):
        return act(
            rt,
            "Diagnosis retracted; it stays in the history",
            retract_diagnosis,
            diagnosis_id=picked,
            reason=reason,
        )
    return False


def _prescription(rt: Runtime, record: Saved, reason: str) -> bool:
    cid = record.consultation_id
    lines: list[MedicineLine] = st.session_state.setdefault(_key("rx", cid), list(record.lines))
    for i, line in enumerate(lines):
        text, remove = st.columns([8, 1], vertical_alignment="center", gap="xsmall")
        text.markdown(f"{i + 1}. {escape(medicine_text(line))}")
        if remove.button("✕", key=f"doc_am_rx_del_{cid}_{i}", help="Remove this medicine"):
            del lines[i]
            st.rerun()
    with st.form(f"doc_am_rx_form_{cid}", clear_on_submit=True, border=False):
        name, strength, dose, days = st.columns([3, 1.4, 1.2, 1], gap="xsmall")
        medicine = name.text_input("Medicine", key=f"doc_am_rx_med_{cid}")
        power = strength.text_input("Strength", key=f"doc_am_rx_str_{cid}")
        pattern = dose.text_input("Dose", key=f"doc_am_rx_dose_{cid}", value="1-0-1")
        course = days.number_input("Days", 1, 365, 5, key=f"doc_am_rx_days_{cid}")
        if st.form_submit_button("Add medicine", icon=":material/add:"):
            try:
                if not medicine.strip():
                    st.error("Type the medicine's name")
                    return False
                lines.append(
                    MedicineLine(
                        medicine.strip(),
                        check_pattern(pattern, "Dose"),
                        power.strip() or None,
                        "after_food",
                        int(course),
                    )
                )
            except DomainError as exc:
                st.error(exc.message)
                return False
            st.rerun()
    advice = st.text_area("Advice", key=_key("advice", cid), height=68)
    if not st.button("Save prescription", key=_key("rx_save", cid), type="primary"):
        return False
    return act(
        rt,
        "Prescription amended; the earlier version stays in the history",
        save_prescription,
        consultation_id=cid,
        lines=tuple(lines),
        advice=advice.strip() or None,
        reason=reason,
    )
