"""The lab app in headless Chromium at 1366x768, as a technician uses it through the morning.

The app runs as ``qlink ui`` would run it (``streamlit run apps/lab/main.py`` with the sign-in
routes) on the test database: sign in, see the worklist, enter a high sugar (shown in red with
its turnaround) and a knee X-ray report ($QLINK_SCREENSHOTS to keep the screenshots).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from core.clinical.consultations import open_consultation
from core.clinical.lab import order_tests
from core.clinical.lab_catalogue import LabTestSpec, add_lab_test
from core.queue.calling import call_next
from tests.browser.streamlit_server import ROOT, serve_streamlit
from tests.web.conftest import Floor, settings_for

ENTRY = ROOT / "apps" / "lab" / "main.py"
PASSWORD = "correct-horse-1"
TESTS = (
    LabTestSpec("HB", "Haemoglobin (CBC)", "g/dL", 13, 17, 12, 15),
    LabTestSpec("FBS", "Blood sugar, fasting", "mg/dL", 70, 100),
    LabTestSpec("HBA1C", "HbA1c", "%", 4.0, 5.6),
    LabTestSpec("XRKNEE", "X-ray knee (AP/lateral)", result_kind="text"),
)


@pytest.fixture
def lab_app(db, tmp_path) -> Iterator[str]:
    settings = settings_for(db, tmp_path)
    with serve_streamlit(ENTRY, settings, tmp_path) as url:
        yield url


def morning_orders(floor: Floor) -> None:
    """Two patients seen by the first doctor, each sent to the lab with tests."""
    clinic, doctor_id = floor.clinic, floor.doctors[0].id
    doctor = dataclasses.replace(clinic.system, role="doctor", doctor_id=doctor_id)
    with floor.db.transaction(floor.tenant_id) as s:
        ids = {spec.code: add_lab_test(s, clinic.admin, spec=spec).id for spec in TESTS}
    for index, codes in ((0, ("FBS", "HBA1C")), (1, ("XRKNEE", "HB"))):
        floor.issue(index)
        with floor.db.transaction(floor.tenant_id) as s:
            called = call_next(s, doctor, doctor_id=doctor_id)
            assert called is not None
            visit = open_consultation(s, doctor, token_id=called.id)
            order_tests(s, doctor, consultation_id=visit.id, lab_test_ids=[ids[c] for c in codes])


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_sign_in_and_enter_results_from_the_worklist(browser, floor, lab_app, shots):
    morning_orders(floor)
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    page.goto(f"{lab_app}/")
    page.fill("#username", f"lab_technician.{floor.clinic.tenant.slug}")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    expect(page.get_by_text("4 open")).to_be_visible(timeout=20000)
    expect(page.get_by_role("textbox", name="Value (mg/dL)")).to_be_visible(timeout=15000)
    page.screenshot(path=str(shots / "lab-worklist.png"))
    page.get_by_role("textbox", name="Value (mg/dL)").fill("182")
    page.get_by_role("button", name="Save", exact=True).first.click()
    expect(page.get_by_text("3 open")).to_be_visible(timeout=15000)
    expect(page.get_by_text("182 mg/dL HIGH")).to_be_visible()
    _only(page, "Value (%)").fill("6.1")
    page.get_by_role("button", name="Save", exact=True).first.click()
    expect(page.get_by_text("2 open")).to_be_visible(timeout=15000)
    expect(page.get_by_text("The patient is back in the doctor's queue")).to_be_visible()
    _only(page, "Report").fill("Medial joint space narrowing, osteophytes. Early OA.")
    page.get_by_role("button", name="Save", exact=True).first.click()
    expect(page.get_by_text("1 open")).to_be_visible(timeout=15000)
    expect(page.get_by_text("X-ray knee (AP/lateral) saved")).to_be_visible()
    page.screenshot(path=str(shots / "lab-results.png"))
    page.close()


def _only(page, name: str):
    """The worklist's one textbox ``name`` once the rerun after a save has settled (until then
    Streamlit may still show the previous run's copy of the form beside the new one)."""
    box = page.get_by_role("textbox", name=name)
    expect(box).to_have_count(1, timeout=15000)
    return box
