"""The prescription PDF: clinic header, doctor, patient, date, medicines, advice, signature.

``prescription_document`` reads everything inside a transaction into plain values;
``render_prescription`` lays them out with no database, so rendering happens after commit
(``core.clinical.delivery``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from core import audit
from core.auth.permissions import require
from core.clinical.medicines import MedicineLine, timing_label
from core.clinical.prescriptions import prescription_view
from core.clinical.records import current_diagnoses, latest
from core.context import Actor, load_owned
from core.documents.pdf import ClinicHeading, ClinicPDF, Column
from core.patients.views import current_age
from db.models import (
    Branch,
    Consultation,
    ConsultationNote,
    Department,
    Doctor,
    Patient,
    Prescription,
    Tenant,
)

_COLUMNS = (
    Column("#", 0.5),
    Column("Medicine", 5),
    Column("Dose", 1.6),
    Column("When", 2),
    Column("Days", 1, "R"),
    Column("Instructions", 3.5),
)


@dataclass(frozen=True)
class PrescriptionDocument:
    """Everything printed on a prescription, as plain text."""

    prescription_id: int
    heading: ClinicHeading
    doctor: str
    department: str | None
    patient: str
    patient_line: str
    date: str
    complaint: str | None
    diagnoses: tuple[str, ...]
    lines: tuple[MedicineLine, ...]
    advice: str | None
    follow_up: str | None


def prescription_document(
    session: Session, actor: Actor, *, prescription_id: int
) -> PrescriptionDocument:
    """Read a prescription of the actor's clinic for printing; audited."""
    require(actor, "clinical.read")
    row = load_owned(session, actor, Prescription, prescription_id, "Prescription")
    consultation = session.get(Consultation, row.consultation_id)
    assert consultation is not None  # composite foreign key
    tenant = session.get(Tenant, row.tenant_id)
    branch = session.get(Branch, consultation.branch_id)
    doctor = session.get(Doctor, row.doctor_id)
    patient = session.get(Patient, row.patient_id)
    assert tenant and branch and doctor and patient
    department = session.get(Department, doctor.department_id) if doctor.department_id else None
    notes = latest(session, ConsultationNote, consultation)
    zone = ZoneInfo(branch.timezone or tenant.timezone)
    issued = (row.issued_at or row.created_at).astimezone(zone)
    audit.record(session, actor, "prescription.print", entity="prescription", entity_id=row.id)
    return PrescriptionDocument(
        prescription_id=row.id,
        heading=ClinicHeading(tenant.name, branch.name, branch.address),
        doctor=doctor.full_name,
        department=department.name if department else None,
        patient=patient.full_name,
        patient_line=_patient_line(patient, issued.date()),
        date=issued.strftime("%d %b %Y, %H:%M"),
        complaint=notes.chief_complaint if notes else None,
        diagnoses=tuple(
            f"{d.description} ({d.icd10_code})" if d.icd10_code else d.description
            for d in current_diagnoses(session, consultation)
        ),
        lines=prescription_view(session, row).lines,
        advice=row.advice,
        follow_up=notes.follow_up_date.strftime("%d %b %Y")
        if notes and notes.follow_up_date
        else None,
    )


def render_prescription(doc: PrescriptionDocument) -> bytes:
    """Lay out a prescription (A4, no database)."""
    pdf = ClinicPDF(doc.heading, footer_text="Take medicines as prescribed. Keep this paper.")
    pdf.title_line("Prescription")
    doctor = f"{doc.doctor}, {doc.department}" if doc.department else doc.doctor
    pdf.facts(
        [
            ("Patient", doc.patient),
            ("ID / age", doc.patient_line),
            ("Doctor", doctor),
            ("Date", doc.date),
        ]
    )
    if doc.complaint:
        pdf.facts([("Complaint", doc.complaint)])
    if doc.diagnoses:
        pdf.facts([("Diagnosis", "; ".join(doc.diagnoses))])
    pdf.rule()
    pdf.ln(2)
    pdf.title_line("Rx", size=12)
    if doc.lines:
        pdf.grid(_COLUMNS, [_row(i, line) for i, line in enumerate(doc.lines, start=1)])
    if doc.advice:
        pdf.facts([("Advice", doc.advice)])
    if doc.follow_up:
        pdf.facts([("Follow-up", doc.follow_up)])
    pdf.ln(14)
    pdf.set_x(pdf.w - pdf.r_margin - 60)
    pdf.cell(60, 5, "_" * 30, align="C", new_x="LEFT", new_y="NEXT")
    pdf.cell(60, 5, f"Signature: {doc.doctor}", align="C")
    return pdf.render()


def _row(position: int, line: MedicineLine) -> tuple[str, ...]:
    name = f"{line.medicine} {line.strength}" if line.strength else line.medicine
    return (
        str(position),
        name,
        line.dosage_pattern,
        timing_label(line.timing),
        str(line.duration_days) if line.duration_days else "",
        line.instructions or "",
    )


def _patient_line(patient: Patient, today: dt.date) -> str:
    age = current_age(patient, today)
    parts = [patient.code]
    if age is not None:
        parts.append(f"{age} y")
    if patient.gender:
        parts.append(patient.gender.title())
    return " · ".join(parts)
