"""The patient record summary for a referral: one PDF another doctor can read in a minute.

Demographics, allergies (first), conditions, current medications, recent visits with their
diagnoses and prescriptions, and lab results. The view is read through ``core.clinical``'s own
reads (``patient_at_a_glance``, ``patient_results``; both audited) inside the transaction;
``render_summary`` lays it out with no database, after commit; ``store_summary`` keeps the
rendered file as the patient's ``summary`` document so it can be sent over WhatsApp.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from core import audit
from core.auth.permissions import require
from core.clinical.glance import PatientGlance, Visit, patient_at_a_glance
from core.clinical.lab_worklist import ResultLine, patient_results
from core.clinical.medicines import MedicineLine, timing_label
from core.context import Actor, tenant_of
from core.documents import store
from core.documents.pdf import ClinicHeading, ClinicPDF, Column
from core.errors import ValidationFailed
from core.patients.views import current_age, load_patient
from db.models import Branch, Document, Tenant

MAX_VISITS = 30
_RESULTS = (Column("Date", 14), Column("Test", 34), Column("Result", 22), Column("Range", 18))
_VISITS = (Column("Date", 14), Column("Doctor", 20), Column("Complaint and diagnosis", 66))
_RX = (Column("Medicine", 40), Column("Dose", 20), Column("Days", 8), Column("Notes", 32))


@dataclass(frozen=True)
class ReferralSummary:
    """What the summary prints, read inside the transaction."""

    heading: ClinicHeading
    patient: str
    facts: tuple[tuple[str, str], ...]
    glance: PatientGlance
    results: tuple[ResultLine, ...]
    zone: ZoneInfo
    printed: str
    by: str
    referred_to: str | None


def referral_summary(
    session: Session,
    actor: Actor,
    *,
    patient_id: int,
    visits: int = 10,
    referred_to: str | None = None,
) -> ReferralSummary:
    """Read a patient's record summary for a referral letter (doctors); audited."""
    require(actor, "clinical.read")
    if not 1 <= visits <= MAX_VISITS:
        raise ValidationFailed(f"Summarise 1 to {MAX_VISITS} visits", field="visits")
    if referred_to is not None and len(referred_to) > 200:
        raise ValidationFailed("'Referred to' has at most 200 characters", field="referred_to")
    tenant_id = tenant_of(session, actor)
    patient = load_patient(session, tenant_id, patient_id)
    tenant = session.get(Tenant, tenant_id)
    assert tenant is not None
    branch = session.get(Branch, actor.branch_id) if actor.branch_id else None
    zone = ZoneInfo((branch.timezone if branch else None) or tenant.timezone)
    now = actor.clock().astimezone(zone)
    glance = patient_at_a_glance(session, actor, patient.id, visits=visits)
    results = patient_results(session, actor, patient_id=patient.id, limit=40)
    audit.record(session, actor, "clinical.summary", entity="patient", entity_id=patient.id)
    age = current_age(patient, now.date())
    facts = [("Patient ID", patient.code)]
    facts += [
        (
            "Age / sex",
            " / ".join(x for x in (f"{age} y" if age else "", _title(patient.gender)) if x),
        )
    ]
    if patient.blood_group:
        facts.append(("Blood group", patient.blood_group))
    return ReferralSummary(
        heading=ClinicHeading(
            tenant.name, branch.name if branch else None, branch.address if branch else None
        ),
        patient=patient.full_name,
        facts=tuple((k, v) for k, v in facts if v),
        glance=glance,
        results=tuple(r for r in results if r.value is not None),
        zone=zone,
        printed=now.strftime("%d %b %Y, %H:%M"),
        by=actor.label,
        referred_to=(referred_to or "").strip() or None,
    )


def render_summary(summary: ReferralSummary) -> bytes:
    """Lay out the summary (A4, no database)."""
    pdf = ClinicPDF(
        summary.heading,
        footer_text="Confidential medical record: for the doctor it is addressed to.",
    )
    pdf.title_line("Patient record summary")
    facts = [
        ("Patient", summary.patient),
        *summary.facts,
        ("Printed", f"{summary.printed} by {summary.by}"),
    ]
    if summary.referred_to:
        facts.append(("Referred to", summary.referred_to))
    pdf.facts(facts, label_width=40)
    g = summary.glance
    _section(
        pdf,
        "Allergies",
        [_allergy(a.substance, a.reaction, a.severity) for a in g.allergies]
        or ["No known allergies"],
    )
    _section(
        pdf,
        "Conditions",
        [f"{c.name} ({c.icd10_code})" if c.icd10_code else c.name for c in g.conditions]
        or ["None recorded"],
    )
    _section(
        pdf,
        "Current medications",
        [f"{m.name} {m.dosage or ''}".strip() for m in g.medications] or ["None recorded"],
    )
    if g.visits:
        pdf.title_line("Recent visits", size=11)
        pdf.grid(_VISITS, [_visit_row(v, summary.zone) for v in g.visits])
        for visit in g.visits:
            _prescription(pdf, visit, summary.zone)
    if summary.results:
        pdf.title_line("Lab results", size=11)
        pdf.grid(_RESULTS, [_result_row(r, summary.zone) for r in summary.results])
    return pdf.render()


def store_summary(session: Session, actor: Actor, *, patient_id: int, content: bytes) -> Document:
    """Keep a rendered summary as the patient's ``summary`` document (to send or download)."""
    require(actor, "clinical.read")
    return store.save_document(
        session,
        actor,
        patient_id=patient_id,
        kind="summary",
        filename="record-summary.pdf",
        content=content,
    )


def _section(pdf: ClinicPDF, title: str, lines: list[str]) -> None:
    pdf.facts([(title, "; ".join(lines))], label_width=40)


def _allergy(substance: str, reaction: str | None, severity: str) -> str:
    detail = ", ".join(x for x in (reaction, severity) if x)
    return f"{substance} ({detail})" if detail else substance


def _visit_row(visit: Visit, zone: ZoneInfo) -> tuple[str, ...]:
    what = "; ".join(x for x in (visit.complaint, *visit.diagnoses) if x)
    return (_day(visit.started_at, zone), visit.doctor, what or "-")


def _prescription(pdf: ClinicPDF, visit: Visit, zone: ZoneInfo) -> None:
    script = visit.prescription
    if script is None or not script.lines:
        return
    pdf.set_font("NotoSans", "B", 9)
    pdf.cell(0, 5, f"Prescription of {_day(visit.started_at, zone)}", new_x="LMARGIN", new_y="NEXT")
    pdf.grid(_RX, [_rx_row(line) for line in script.lines])


def _rx_row(line: MedicineLine) -> tuple[str, ...]:
    name = f"{line.medicine} {line.strength}" if line.strength else line.medicine
    days = str(line.duration_days) if line.duration_days else ""
    dose = f"{line.dosage_pattern} {timing_label(line.timing)}".strip()
    return (name, dose, days, line.instructions or "")


def _result_row(line: ResultLine, zone: ZoneInfo) -> tuple[str, ...]:
    value = f"{line.value} {line.unit or ''}".strip()
    if line.abnormal:
        value = f"{value} ({line.abnormal.upper()})"
    return (_day(line.resulted_at or line.ordered_at, zone), line.test_name, value, _range(line))


def _range(line: ResultLine) -> str:
    if line.ref_low is not None and line.ref_high is not None:
        return f"{line.ref_low:g}-{line.ref_high:g}"
    if line.ref_high is not None:
        return f"< {line.ref_high:g}"
    if line.ref_low is not None:
        return f"> {line.ref_low:g}"
    return ""


def _day(at: dt.datetime, zone: ZoneInfo) -> str:
    return at.astimezone(zone).strftime("%d %b %Y")


def _title(value: str | None) -> str:
    return value.title() if value else ""
