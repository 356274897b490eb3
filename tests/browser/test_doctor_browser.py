"""The doctor app in headless Chromium at 1366x768, as a doctor uses it between patients.

The app runs as ``qlink ui`` runs it (``streamlit run apps/doctor/main.py`` with the sign-in
routes) on the test database. Sign in, call next, start, see the patient's history at a glance,
write the visit, finish; the prescription the visit produced is rendered to PDF and to PNG
(``pdftoppm``) beside the page's screenshots ($QLINK_SCREENSHOTS to keep them).
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from core.auth.users import create_user
from core.clinical.consultations import open_consultation
from core.clinical.finish import finish_visit
from core.clinical.lab import enter_result, order_tests
from core.clinical.lab_catalogue import LabTestSpec
from core.clinical.medicines import MedicineLine
from core.clinical.prescription_pdf import prescription_document, render_prescription
from core.clinical.prescriptions import save_prescription
from core.clinical.records import add_diagnosis, record_notes
from core.clinical.uploads import upload_document
from core.patients.background import add_allergy, add_condition, add_medication
from core.queue.calling import call_next
from db.models import Prescription
from qlink import builder
from tests.browser.streamlit_server import ROOT, serve_streamlit
from tests.web.conftest import Floor, settings_for

ENTRY = ROOT / "apps" / "doctor" / "main.py"
PASSWORD = "correct-horse-1"


@pytest.fixture
def doctor_app(db, tmp_path) -> Iterator[str]:
    settings = settings_for(db, tmp_path)
    with serve_streamlit(ENTRY, settings, tmp_path) as url:
        yield url


def with_history(floor: Floor) -> str:
    """A doctor login, and patient 0 with an allergy, conditions and two past visits."""
    clinic, doctor_id, patient = floor.clinic, floor.doctors[0].id, floor.patients[0]
    doctor = dataclasses.replace(clinic.system, role="doctor", doctor_id=doctor_id)
    username = f"doc.{clinic.tenant.slug}"
    with floor.db.transaction(floor.tenant_id) as s:
        create_user(
            s, clinic.admin, username=username, password=PASSWORD, full_name="Asha Rao",
            role="doctor", doctor_id=doctor_id,
        )  # fmt: skip
        add_allergy(
            s, clinic.admin, patient, substance="Penicillin", reaction="rash", severity="severe"
        )
        add_allergy(s, clinic.admin, patient, substance="Sulfa drugs")
        add_condition(s, clinic.admin, patient, name="Type 2 diabetes", icd10_code="E11.9")
        add_condition(s, clinic.admin, patient, name="Hypertension", icd10_code="I10")
        add_medication(s, clinic.admin, patient, name="Metformin", dosage="500mg 1-0-1")
    fever = [MedicineLine("Paracetamol", "1-1-1", "650mg", "after_food", 3)]
    back = [
        MedicineLine("Aceclofenac", "1-0-1", "100mg", "after_food", 5),
        MedicineLine("Pantoprazole", "1-0-0", "40mg", "before_food", 5),
    ]
    past = (("Fever and cough for 3 days", "J06.9", fever), ("Low back pain", "M54.50", back))
    for complaint, code, lines in past:
        floor.issue(0)
        with floor.db.transaction(floor.tenant_id) as s:
            called = call_next(s, doctor, doctor_id=doctor_id)
            assert called is not None
            visit = open_consultation(s, doctor, token_id=called.id)
            record_notes(s, doctor, consultation_id=visit.id, chief_complaint=complaint)
            add_diagnosis(s, doctor, consultation_id=visit.id, icd10_code=code)
            save_prescription(s, doctor, consultation_id=visit.id, lines=lines, advice="Rest")
            finish_visit(s, doctor, consultation_id=visit.id)
    return username


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_sign_in_call_next_record_and_finish_the_knee_pain_visit(browser, floor, doctor_app, shots):
    username = with_history(floor)
    floor.issue(0)
    floor.issue(1)
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    page.goto(f"{doctor_app}/")
    expect(page.locator("h1")).to_have_text("QLink doctor")  # not the reception's form
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    call = page.get_by_role("button", name="Call next (2)")
    expect(call).to_be_visible(timeout=20000)
    page.screenshot(path=str(shots / "doctor-queue.png"))
    call.click()
    page.get_by_role("button", name="Start consultation").click()
    expect(page.locator(".qd-allergy")).to_contain_text("Penicillin", timeout=15000)
    page.get_by_label("Chief complaint").fill("Knee pain for 2 weeks")
    page.get_by_label("Chief complaint").press("Tab")
    page.get_by_label("Medicine", exact=True).fill("Ibuprofen")
    page.get_by_label("Strength", exact=True).fill("400mg")
    page.get_by_label("Days", exact=True).fill("7")
    page.get_by_label("Medicine", exact=True).press("Enter")
    expect(page.get_by_text("Ibuprofen 400mg 1-0-1")).to_be_visible(timeout=10000)
    page.screenshot(path=str(shots / "doctor-visit.png"))
    page.screenshot(path=str(shots / "doctor-visit-full.png"), full_page=True)
    page.get_by_role("button", name="Finish visit").click()
    expect(page.get_by_text("Visit finished")).to_be_visible(timeout=15000)
    page.screenshot(path=str(shots / "doctor-finished.png"))
    page.close()

    with floor.db.transaction(floor.tenant_id) as s:
        newest = s.scalar(select(Prescription.id).order_by(Prescription.id.desc()).limit(1))
        doc = prescription_document(s, floor.clinic.system, prescription_id=newest)
    pdf = shots / "prescription.pdf"
    pdf.write_bytes(render_prescription(doc))
    if shutil.which("pdftoppm"):
        subprocess.run(
            ["pdftoppm", "-png", "-r", "80", str(pdf), str(shots / "prescription")], check=True
        )


LAB_TESTS = (
    LabTestSpec("FBS", "Blood sugar (fasting)", "mg/dL", 70, 100),
    LabTestSpec("HB", "Haemoglobin", "g/dL", 13, 17, 12, 15),
    LabTestSpec("XRK", "X-ray knee (AP/lateral)", result_kind="text"),
)
PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def back_from_the_lab(floor: Floor) -> None:
    """Patient 0 seen today, sent for three tests (one high), back with a report uploaded."""
    clinic, doctor_id, patient = floor.clinic, floor.doctors[0].id, floor.patients[0]
    doctor = dataclasses.replace(clinic.system, role="doctor", doctor_id=doctor_id)
    with floor.db.transaction(floor.tenant_id) as s:
        tests = builder.add_lab_tests(s, clinic.admin, LAB_TESTS)
    floor.issue(0)
    with floor.db.transaction(floor.tenant_id) as s:
        called = call_next(s, doctor, doctor_id=doctor_id)
        assert called is not None
        visit = open_consultation(s, doctor, token_id=called.id)
        record_notes(s, doctor, consultation_id=visit.id, chief_complaint="Knee pain, thirsty")
        orders = order_tests(
            s, doctor, consultation_id=visit.id, lab_test_ids=[t.id for t in tests]
        ).order_ids
        upload_document(
            s, doctor, patient_id=patient, kind="report", filename="MRI knee 2025.pdf",
            content=PDF, consultation_id=visit.id,
        )  # fmt: skip
    with floor.db.transaction(floor.tenant_id) as s:
        for order, value in zip(
            orders, ("182", "14.2", "Mild medial joint space narrowing"), strict=True
        ):
            enter_result(s, clinic.lab, order_id=order, value=value)


def settled(page) -> None:
    """Wait until the page's run is drawn: no skeleton placeholders left."""
    expect(page.locator('[data-testid="stSkeleton"]')).to_have_count(0, timeout=20000)


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_the_room_with_lab_results_back_and_documents(browser, floor, doctor_app, shots):
    username = with_history(floor)
    back_from_the_lab(floor)
    floor.issue(1)
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    page.goto(f"{doctor_app}/")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    expect(page.get_by_text("results ready · 1 abnormal")).to_be_visible(timeout=20000)
    settled(page)
    page.screenshot(path=str(shots / "doctor-results-ready.png"))
    page.get_by_role("button", name="Call next (2)").click()
    page.get_by_role("button", name="Start consultation").click()
    expect(page.locator("table.qd-results")).to_contain_text("182", timeout=15000)
    expect(page.locator("tr.qd-abnormal")).to_contain_text("HIGH")
    expect(page.get_by_label("Chief complaint")).to_have_value("Knee pain, thirsty", timeout=15000)
    settled(page)
    finish = page.get_by_role("button", name="Finish visit")
    expect(finish).to_be_in_viewport()
    page.screenshot(path=str(shots / "doctor-room-results.png"))
    page.get_by_role("button", name="Documents · 1").click()
    expect(page.get_by_text("MRI knee 2025.pdf")).to_be_visible(timeout=10000)
    settled(page)
    page.screenshot(path=str(shots / "doctor-room-documents.png"))
    page.get_by_role("button", name="Documents · 1").click()  # closes it
    page.get_by_role("button", name="Amend").first.click()
    change = page.locator('[data-testid="stButtonGroup"]').get_by_text("Prescription", exact=True)
    change.click()
    expect(page.get_by_role("button", name="Save prescription")).to_be_visible(timeout=15000)
    settled(page)
    page.screenshot(path=str(shots / "doctor-amend-prescription.png"))
    page.close()
