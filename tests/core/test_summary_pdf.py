"""The referral summary PDF: what a receiving doctor needs, read through core.clinical."""

from __future__ import annotations

import os
import shutil
import subprocess
import unicodedata

import pytest
from sqlalchemy import func, select

from core.clinical import summary_pdf
from core.clinical.lab import enter_result, order_tests
from core.clinical.medicines import MedicineLine
from core.clinical.prescriptions import save_prescription
from core.clinical.records import add_diagnosis, record_notes
from core.errors import NotFound, PermissionDenied
from core.patients import background
from db.models import AuditEntry, Document
from tests.core.lab_support import patient_in_consultation, set_up_lab

needs_poppler = pytest.mark.skipif(
    shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) is not installed"
)


def squash(text: str) -> str:
    text = unicodedata.normalize("NFC", text)
    return "".join(c for c in text if not c.isspace() and unicodedata.category(c) != "Cc")


def pdf_text(pdf: bytes) -> str:
    out = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", "-", "-"], input=pdf, capture_output=True, check=True
    )
    return squash(out.stdout.decode())


@pytest.fixture
def lab(session, clinic_a):
    return set_up_lab(session, clinic_a)


@pytest.fixture
def knee_visit(session, clinic_a, lab):
    """Seed 001's knee pain: notes, diagnosis, prescription, an X-ray and a sugar result."""
    visit = patient_in_consultation(session, clinic_a, lab)
    doctor, cid = lab.doctor, visit.consultation_id
    background.add_allergy(
        session, doctor, visit.patient_id, substance="Penicillin", severity="severe"
    )
    background.add_condition(
        session, doctor, visit.patient_id, name="Type 2 diabetes", icd10_code="E11.9"
    )
    background.add_medication(
        session, doctor, visit.patient_id, name="Metformin", dosage="500 mg BD"
    )
    record_notes(
        session, doctor, consultation_id=cid, chief_complaint="Right knee pain for 2 weeks"
    )
    add_diagnosis(session, doctor, consultation_id=cid, icd10_code="M17.11")
    save_prescription(
        session,
        doctor,
        consultation_id=cid,
        lines=[MedicineLine("Aceclofenac", "1-0-1", "100 mg", "after_food", 5)],
        advice="Knee exercises twice a day",
    )
    ids = [lab.tests["FBS"], lab.tests["XRK"]]
    fbs, xray = order_tests(session, doctor, consultation_id=cid, lab_test_ids=ids).order_ids
    enter_result(session, lab.tech, order_id=fbs, value="182")
    enter_result(session, lab.tech, order_id=xray, value="Medial joint space narrowing")
    return visit


@needs_poppler
def test_the_summary_lists_history_prescriptions_and_results(session, lab, knee_visit):
    summary = summary_pdf.referral_summary(
        session, lab.doctor, patient_id=knee_visit.patient_id, referred_to="Dr. Mehta, Orthopaedics"
    )
    pdf = summary_pdf.render_summary(summary)
    text = pdf_text(pdf)
    if os.environ.get("QLINK_SUMMARY_PDF_OUT"):
        with open(os.environ["QLINK_SUMMARY_PDF_OUT"], "wb") as out:
            out.write(pdf)
    for expected in (
        "Patientrecordsummary",
        squash(summary.patient),
        "Penicillin(severe)",
        "Type2diabetes(E11.9)",
        "Metformin500mgBD",
        "Rightkneepainfor2weeks",
        "M17.11",
        "Aceclofenac100mg",
        "1-0-1",
        "Bloodsugar(fasting)",
        "182mg/dL(HIGH)",
        "70-100",
        "Medialjointspacenarrowing",
        "Referredto",
        "Dr.Mehta,Orthopaedics",
    ):
        assert expected in text, expected


def test_storing_the_summary_keeps_a_summary_document_and_audits_the_read(session, lab, knee_visit):
    summary = summary_pdf.referral_summary(session, lab.doctor, patient_id=knee_visit.patient_id)
    doc = summary_pdf.store_summary(
        session,
        lab.doctor,
        patient_id=knee_visit.patient_id,
        content=summary_pdf.render_summary(summary),
    )
    assert (doc.kind, doc.mime) == ("summary", "application/pdf")
    actions = set(session.execute(select(AuditEntry.action)).scalars())
    assert {"clinical.summary", "clinical.glance", "lab.read", "document.store"} <= actions


@pytest.mark.parametrize("who", ["desk", "tech"])
def test_only_doctors_read_the_summary(session, lab, knee_visit, who):
    before = session.execute(select(func.count()).select_from(Document)).scalar_one()
    with pytest.raises(PermissionDenied):
        summary_pdf.referral_summary(session, getattr(lab, who), patient_id=knee_visit.patient_id)
    assert session.execute(select(func.count()).select_from(Document)).scalar_one() == before


def test_another_clinics_doctor_gets_not_found(session, clinic_b, knee_visit):
    theirs = set_up_lab(session, clinic_b)
    with pytest.raises(NotFound):
        summary_pdf.referral_summary(session, theirs.doctor, patient_id=knee_visit.patient_id)
    with pytest.raises(NotFound):
        summary_pdf.store_summary(
            session, theirs.doctor, patient_id=knee_visit.patient_id, content=b"%PDF-1.7\n%%EOF"
        )
