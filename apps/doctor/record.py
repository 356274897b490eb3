"""The visit being recorded: its consultation id per token and a plain copy of its record.

The record is read once per visit and after each save (``consultation_record`` is audited),
and kept as plain values: ORM rows never go into the session state.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import streamlit as st

from apps.common.runtime import Runtime
from core.clinical.consultations import open_consultation
from core.clinical.medicines import MedicineLine
from core.clinical.views import ConsultationRecord, DiagnosisView, consultation_record
from core.errors import DomainError

VISITS = "qlink_doctor_visits"  # token id → consultation id
RECORD = "qlink_doctor_record"
VITALS = (
    "temperature_c",
    "bp_systolic",
    "bp_diastolic",
    "pulse_bpm",
    "spo2_pct",
    "weight_kg",
    "height_cm",
)
NOTES = ("chief_complaint", "examination", "treatment_plan")


@dataclass(frozen=True)
class Saved:
    """The current version of each part of the visit's record, as plain values."""

    consultation_id: int
    status: str
    vitals: dict[str, float | int | None] = field(default_factory=dict)
    bmi: float | None = None
    notes: dict[str, str | None] = field(default_factory=dict)
    follow_up: dt.date | None = None
    diagnoses: tuple[DiagnosisView, ...] = ()
    lines: tuple[MedicineLine, ...] = ()
    advice: str | None = None
    versions: int = 0


def open_visit(rt: Runtime, token_id: int, *, start: bool = False) -> int | None:
    """Start (or find) the consultation of the token; the token moves to in consultation.

    ``start``: the doctor pressed Start, so core is asked even when the visit is known (a
    patient back from the lab is called again and re-enters the same consultation).
    """
    visits: dict[int, int] = st.session_state.setdefault(VISITS, {})
    if token_id in visits and not start:
        return visits[token_id]
    staff = st.session_state["qlink_staff"]
    try:
        with rt.db.transaction(staff.actor.tenant_id) as session:
            consultation = open_consultation(session, staff.actor, token_id=token_id)
            visits[token_id] = consultation.id
    except DomainError as exc:
        st.error(exc.message)
        return None
    return visits[token_id]


def saved(rt: Runtime, consultation_id: int) -> Saved | None:
    """The visit's current record (read once, then after each save)."""
    cached = st.session_state.get(RECORD)
    if isinstance(cached, Saved) and cached.consultation_id == consultation_id:
        return cached
    staff = st.session_state["qlink_staff"]
    try:
        with rt.db.transaction(staff.actor.tenant_id) as session:
            record = plain(
                consultation_record(session, staff.actor, consultation_id=consultation_id)
            )
    except DomainError as exc:
        st.error(exc.message)
        return None
    st.session_state[RECORD] = record
    return record


def forget() -> None:
    st.session_state.pop(RECORD, None)


def plain(record: ConsultationRecord) -> Saved:
    """The record as plain values (no ORM rows)."""
    v, n, rx = record.vitals, record.notes, record.prescription
    return Saved(
        consultation_id=record.id,
        status=record.status,
        vitals={f: getattr(v, f) for f in VITALS} if v else {},
        bmi=v.bmi if v else None,
        notes={f: getattr(n, f) for f in NOTES} if n else {},
        follow_up=n.follow_up_date if n else None,
        diagnoses=record.diagnoses,
        lines=rx.lines if rx else (),
        advice=rx.advice if rx else None,
        versions=len(record.history),
    )
