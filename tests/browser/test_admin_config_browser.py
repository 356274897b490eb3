"""The console's configuration in headless Chromium at 1366x768: the clinic admin signs in,
opens the clinic set-up and the doctors' hours ($QLINK_SCREENSHOTS to keep the screenshots)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.browser.streamlit_server import ROOT, serve_streamlit
from tests.web.conftest import Floor, settings_for

ENTRY = ROOT / "apps" / "admin_bi" / "main.py"
PASSWORD = "correct-horse-1"


@pytest.fixture
def console(db, tmp_path) -> Iterator[str]:
    settings = settings_for(db, tmp_path)
    with serve_streamlit(ENTRY, settings, tmp_path) as url:
        yield url


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_the_admin_opens_clinic_set_up_and_doctors(browser, floor: Floor, console, shots):
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    page.goto(f"{console}/")
    page.fill("#username", f"clinic_admin.{floor.clinic.tenant.slug}")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_timeout(3000)
    page.goto(f"{console}/config_clinic")
    expect(page.get_by_text("Queue priorities, cap and wait-estimate window")).to_be_visible(
        timeout=60000
    )
    expect(page.get_by_role("button", name="Save queue rules")).to_be_visible(timeout=60000)
    page.wait_for_timeout(3000)  # the data grid draws on a canvas after the script ends
    assert not page.get_by_text("Traceback").count()
    page.screenshot(path=str(shots / "admin-config-clinic.png"))
    page.screenshot(path=str(shots / "admin-config-clinic-full.png"), full_page=True)
    page.goto(f"{console}/config_doctors")
    expect(page.get_by_text("Doctors and schedules")).to_be_visible(timeout=60000)
    expect(page.get_by_text("Working here")).to_be_visible(timeout=60000)
    page.wait_for_timeout(3000)
    page.screenshot(path=str(shots / "admin-config-doctors.png"))
    page.close()
