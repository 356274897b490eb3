"""The patient at a glance: allergies first and in red, conditions, medicines, past visits.

Read once per patient in the room and kept in the session (the read is audited once, and the
form's reruns do not re-read it); a finished visit or a new patient reads it afresh.
"""

from __future__ import annotations

from html import escape
from zoneinfo import ZoneInfo

import streamlit as st

from apps.common.runtime import Runtime
from apps.doctor import amend
from apps.doctor.look import medicine_text
from core.clinical.glance import PatientGlance, Visit, patient_at_a_glance
from core.clinical.medicines import MedicineLine
from core.errors import DomainError

KEY = "qlink_doctor_glance"
SHOWN_VISITS = 6


def load(rt: Runtime, patient_id: int, token_id: int) -> PatientGlance | None:
    """The patient's summary, read once for this token's visit."""
    cached = st.session_state.get(KEY)
    if cached is not None and cached[0] == (patient_id, token_id):
        return cached[1]  # type: ignore[no-any-return]
    staff = st.session_state["qlink_staff"]
    try:
        with rt.db.transaction(staff.actor.tenant_id) as session:
            glance = patient_at_a_glance(session, staff.actor, patient_id)
    except DomainError as exc:
        st.error(exc.message)
        return None
    st.session_state[KEY] = ((patient_id, token_id), glance)
    return glance


def forget() -> None:
    """Read the summary afresh on the next run (after the record changed)."""
    st.session_state.pop(KEY, None)


def facts(glance: PatientGlance) -> None:
    """Allergies (red), chronic conditions and current medicines, each one line per item."""
    if glance.allergies:
        items = "; ".join(
            escape(a.substance)
            + (f" ({escape(a.reaction)})" if a.reaction else "")
            + (" — SEVERE" if a.severity == "severe" else "")
            for a in glance.allergies
        )
        st.markdown(f'<div class="qd-allergy">⚠ Allergies: {items}</div>', unsafe_allow_html=True)
    else:
        st.markdown('<div class="qd-noallergy">No known allergies</div>', unsafe_allow_html=True)
    lines = []
    if glance.conditions:
        lines.append(
            "<b>Conditions:</b> "
            + ", ".join(
                escape(c.name) + (f" ({c.since:%Y})" if c.since else "") for c in glance.conditions
            )
        )
    if glance.medications:
        lines.append(
            "<b>Current medicines:</b> "
            + ", ".join(
                escape(" ".join(filter(None, (m.name, m.dosage)))) for m in glance.medications
            )
        )
    if lines:
        st.markdown(
            f'<div class="qd-facts-list">{"<br>".join(lines)}</div>', unsafe_allow_html=True
        )


def _visit_html(visit: Visit, zone: ZoneInfo) -> str:
    when = visit.started_at.astimezone(zone)
    head = f"<b>{when:%d %b %Y}</b> · {escape(visit.doctor)}"
    if visit.status != "final":
        head += " · <i>today, open</i>"
    rows = [head]
    if visit.complaint:
        rows.append(f"Complaint: {escape(visit.complaint)}")
    if visit.diagnoses:
        rows.append(f"Diagnosis: <b>{escape('; '.join(visit.diagnoses))}</b>")
    if visit.prescription and visit.prescription.lines:
        rows.append("Rx: " + escape("; ".join(medicine_text(m) for m in visit.prescription.lines)))
    for lab in visit.labs:
        value = f"{lab.value} {lab.unit or ''}".strip() if lab.value else lab.status
        flag = f' <b style="color:#b91c1c">{escape(lab.abnormal)}</b>' if lab.abnormal else ""
        rows.append(f"Lab: {escape(lab.test)} {escape(value)}{flag}")
    if visit.follow_up_date:
        rows.append(f'<span class="qd-muted">Follow-up {visit.follow_up_date:%d %b %Y}</span>')
    return f'<div class="qd-visit">{"<br>".join(rows)}</div>'


def timeline(
    rt: Runtime, glance: PatientGlance, zone: ZoneInfo, *, current: int | None, can_copy: bool
) -> tuple[MedicineLine, ...] | None:
    """Past visits newest first; returns the lines of a prescription picked to re-prescribe."""
    past = [v for v in glance.visits if v.consultation_id != current]
    st.markdown(f'<div class="qd-title">Visits · {len(past)}</div>', unsafe_allow_html=True)
    if not past:
        st.caption("First visit: no history yet.")
        return None
    picked: tuple[MedicineLine, ...] | None = None
    for visit in past[:SHOWN_VISITS]:
        st.markdown(_visit_html(visit, zone), unsafe_allow_html=True)
        rx = visit.prescription
        copy, fix = st.columns(2, gap="xsmall")
        if visit.status == "final":
            with fix:
                amend.amend_button(rt, visit)
            opened = amend.amending(visit.consultation_id)
            if opened is not None:
                when = f"{visit.started_at.astimezone(zone):%d %b %Y}"
                amend.panel(rt, opened, when, forget)
        if (
            can_copy
            and rx is not None
            and rx.lines
            and copy.button(
                "Re-prescribe",
                key=f"doc_represcribe_{visit.consultation_id}",
                type="tertiary",
                icon=":material/content_copy:",
                help="Copy these medicines into today's prescription",
            )
        ):
            picked = rx.lines
    more = len(past) - SHOWN_VISITS
    if more > 0:
        st.caption(f"… {more} earlier visits")
    return picked
