"""The console's configuration in headless Chromium at 1366x768: the clinic admin signs in,
opens the clinic set-up and the doctors' hours ($QLINK_SCREENSHOTS to keep the screenshots)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.browser.test_desk_browser import ROOT, _wait_healthy
from tests.web.conftest import SECRET, Floor, free_port, settings_for

ENTRY = ROOT / "apps" / "admin_bi" / "main.py"
PASSWORD = "correct-horse-1"


@pytest.fixture
def console(db, tmp_path) -> Iterator[str]:
    settings = settings_for(db, tmp_path)
    port = free_port()
    env = {
        **os.environ,
        "QLINK_DATABASE_URL": settings.database_url,
        "QLINK_SECRET_KEY": SECRET,
        "QLINK_DATA_KEY": settings.data_key,
        "QLINK_VAR_DIR": str(tmp_path),
    }
    command = [
        sys.executable, "-m", "streamlit", "run", str(ENTRY), "--server.port", str(port),
        "--server.address", "127.0.0.1", "--server.headless", "true",
        "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    log = (tmp_path / "streamlit.log").open("wb")
    child = subprocess.Popen(command, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, child)
        yield url
    finally:
        child.terminate()
        child.wait(timeout=20)
        log.close()


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
