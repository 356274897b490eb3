"""The consultation form: vitals (BMI computed), complaint, examination, diagnosis,
prescription, plan and follow-up; Save, or Finish visit (Alt+F) which saves then finishes.

Everything typed is kept in widget state until Save or Finish writes, in one transaction,
only the parts that changed (each a new version of the record); finishing then issues the
prescription, raises the bill and queues the PDF for the patient's WhatsApp.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import streamlit as st

from apps.common.runtime import Runtime
from apps.doctor import current, diagnosis, documents, glance, labs, rx
from apps.doctor import record as visit_record
from apps.doctor.record import NOTES, VITALS, Saved
from core.clinical.doctor_view import RoomPatient
from core.clinical.finish import FinishedVisit, finish_visit
from core.clinical.medicines import MedicineLine
from core.clinical.prescriptions import save_prescription, suggest_follow_up
from core.clinical.records import record_notes, record_vitals
from core.clinical.vitals import VitalsInput, bmi
from core.errors import DomainError

DONE = "qlink_doctor_done"  # the last finished visit's outcome, shown once
VITAL_INPUTS: dict[str, tuple[str, float | None, str]] = {  # label, step, format
    "temperature_c": ("Temp °C", 0.1, "%.1f"),
    "bp_systolic": ("BP sys", 1, "%d"),
    "bp_diastolic": ("BP dia", 1, "%d"),
    "pulse_bpm": ("Pulse", 1, "%d"),
    "spo2_pct": ("SpO2 %", 1, "%d"),
    "weight_kg": ("Weight kg", 0.1, "%.1f"),
    "height_cm": ("Height cm", 0.5, "%.1f"),
}
NOTE_LABELS = {
    "chief_complaint": "Chief complaint",
    "examination": "Examination",
    "treatment_plan": "Plan",
}


def _key(part: str, cid: int) -> str:
    return f"doc_{part}_{cid}"


def _seed(record: Saved) -> None:
    """Put the saved record into the widgets once per visit (the doctor's edits win after)."""
    cid = record.consultation_id
    for f in VITALS:
        st.session_state.setdefault(_key(f, cid), record.vitals.get(f))
    for f in NOTES:
        st.session_state.setdefault(_key(f, cid), record.notes.get(f) or "")
    st.session_state.setdefault(_key("follow_up", cid), record.follow_up)
    st.session_state.setdefault(_key("advice", cid), record.advice or "")


def vitals_row(cid: int) -> None:
    columns = st.columns(len(VITAL_INPUTS) + 1, gap="xsmall")
    for column, (f, (label, step, fmt)) in zip(columns, VITAL_INPUTS.items(), strict=False):
        column.number_input(
            label, min_value=0.0 if step != 1 else 0, step=step, format=fmt, key=_key(f, cid)
        )
    weight = st.session_state.get(_key("weight_kg", cid))
    height = st.session_state.get(_key("height_cm", cid))
    value = bmi(float(weight), float(height)) if weight and height else None
    columns[-1].metric("BMI", f"{value:.1f}" if value else "—")


def form(
    rt: Runtime, record: Saved, summary: glance.PatientGlance | None, visit_day: dt.date
) -> None:
    """Render the whole form for the open visit."""
    cid = record.consultation_id
    _seed(record)
    vitals_row(cid)
    st.text_input(
        NOTE_LABELS["chief_complaint"],
        key=_key("chief_complaint", cid),
        placeholder="e.g. Knee pain for 2 weeks",
    )
    st.text_area(NOTE_LABELS["examination"], key=_key("examination", cid), height=68)
    diagnosis.diagnoses(rt, record)
    last = (
        summary.prescriptions[0].lines
        if summary and summary.prescriptions and summary.prescriptions[0].consultation_id != cid
        else None
    )
    rx.builder(rt, record, last)
    plan, follow = st.columns([3, 1.3], gap="xsmall")
    plan.text_area(NOTE_LABELS["treatment_plan"], key=_key("treatment_plan", cid), height=68)
    suggested = suggest_follow_up(rx.draft(record), visit_day)
    follow.date_input(
        "Follow-up",
        key=_key("follow_up", cid),
        min_value=visit_day + dt.timedelta(days=1),
        help=f"Suggested {suggested:%d %b} (end of the shortest course)" if suggested else None,
        format="DD/MM/YYYY",
    )
    if suggested and st.session_state.get(_key("follow_up", cid)) is None:
        follow.caption(f"Suggested: {suggested:%a %d %b}")


def action_bar(rt: Runtime, record: Saved, patient: RoomPatient, zone: ZoneInfo) -> None:
    """Above the form, always in view: lab, order tests, documents, Save, Finish visit (Alt+F)."""
    cid = record.consultation_id
    _seed(record)
    lab, order, docs, save, finish = st.columns([1, 1.25, 1.2, 0.8, 1.5], gap="xsmall")
    with lab:
        current.send_to_lab_button(rt, patient.token_id)
    with order:
        labs.orders(rt, cid)
    with docs:
        documents.popover(rt, patient.patient_id, cid, zone)
    if save.button("Save", key=f"doc_save_{cid}", icon=":material/save:", width="stretch"):
        _write(rt, record, finish=False)
    if finish.button(
        "Finish visit",
        key=f"doc_finish_{cid}",
        type="primary",
        icon=":material/task_alt:",
        shortcut="Alt+F",
        help="Save, issue the prescription, raise the bill and send the PDF to the patient (Alt+F)",
        width="stretch",
    ):
        _write(rt, record, finish=True)


def _changes(record: Saved) -> dict[str, Any]:
    cid, state = record.consultation_id, st.session_state
    vitals = {f: state.get(_key(f, cid)) for f in VITALS}
    vitals = {f: (v if v not in (0, 0.0) else None) for f, v in vitals.items()}
    notes = {f: (state.get(_key(f, cid)) or "").strip() for f in NOTES}
    lines: list[MedicineLine] = rx.draft(record)
    advice = (state.get(_key("advice", cid)) or "").strip()
    return {
        "vitals": vitals
        if any(v is not None for v in vitals.values())
        and vitals != {f: record.vitals.get(f) for f in VITALS}
        else None,
        "notes": notes if notes != {f: record.notes.get(f) or "" for f in NOTES} else None,
        "follow_up": state.get(_key("follow_up", cid)),
        "rx": (tuple(lines), advice)
        if (tuple(lines), advice) != (record.lines, record.advice or "") and (lines or advice)
        else None,
    }


def _write(rt: Runtime, record: Saved, *, finish: bool) -> None:
    staff = st.session_state["qlink_staff"]
    cid, todo = record.consultation_id, _changes(record)
    try:
        with rt.db.transaction(staff.actor.tenant_id) as session:
            if todo["vitals"] is not None:
                record_vitals(
                    session, staff.actor, consultation_id=cid, vitals=VitalsInput(**todo["vitals"])
                )
            if todo["notes"] is not None or todo["follow_up"] != record.follow_up:
                record_notes(
                    session,
                    staff.actor,
                    consultation_id=cid,
                    **(todo["notes"] or {}),
                    follow_up_date=todo["follow_up"],
                )
            if todo["rx"] is not None:
                lines, advice = todo["rx"]
                save_prescription(
                    session, staff.actor, consultation_id=cid, lines=lines, advice=advice or None
                )
            done: FinishedVisit | None = (
                finish_visit(session, staff.actor, consultation_id=cid) if finish else None
            )
    except DomainError as exc:
        st.error(exc.message)
        return
    visit_record.forget()
    if done is None:
        st.toast("Saved", icon=":material/check_circle:")
        st.rerun()
    glance.forget()
    st.session_state[DONE] = done
    st.rerun()


def finished_notice() -> None:
    """After Finish: what happened to the bill and the prescription, once."""
    done: FinishedVisit | None = st.session_state.pop(DONE, None)
    if done is None:
        return
    parts = ["Visit finished."]
    if done.bill_number:
        parts.append(f"Bill {done.bill_number} is at the desk for payment.")
    if done.prescription_id:
        parts.append(
            "The prescription PDF is being prepared and will be sent to the patient on WhatsApp."
        )
    st.success(" ".join(parts), icon=":material/task_alt:")
