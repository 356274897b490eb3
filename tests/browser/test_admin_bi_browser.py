"""The owner's console in headless Chromium at 1366x768, as the owner opens it after closing.

The app runs as ``qlink ui`` runs it (``streamlit run apps/admin_bi/main.py`` with the sign-in
routes) on a database holding four weeks of the citycare network's history (``qlink seed
history``'s generator, ending today): sign in, read the overview, open the doctors drill-down
($QLINK_SCREENSHOTS to keep the screenshots).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from core.clock import FrozenClock
from qlink.seed.network import ADMIN, seed_history
from tests.browser.streamlit_server import ROOT, serve_streamlit
from tests.web.conftest import settings_for

ENTRY = ROOT / "apps" / "admin_bi" / "main.py"
DAYS = 28


@pytest.fixture
def console(db, tmp_path) -> Iterator[str]:
    settings = settings_for(db, tmp_path)
    tomorrow = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    seed_history(db, settings.data_key, days=DAYS, clock=FrozenClock(tomorrow))  # through today
    with serve_streamlit(ENTRY, settings, tmp_path) as url:
        yield url


@pytest.mark.parametrize("db", ["postgresql"], indirect=True)  # the generator writes by COPY
def test_the_owner_reads_the_overview_and_a_drill_down(browser, console, shots):
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    page.goto(f"{console}/")
    page.fill("#username", ADMIN[0])
    page.fill("#password", ADMIN[1])
    page.click("button[type=submit]")
    expect(page.get_by_text("Appointments", exact=True)).to_be_visible(timeout=90000)
    expect(page.get_by_text("When do patients wait longest")).to_be_visible(timeout=90000)
    # The risk list fits the no-show model on the history: slow once, then cached for an hour.
    expect(page.get_by_text("Which upcoming patients")).to_be_visible(timeout=240000)
    page.wait_for_timeout(2000)  # plotly draws after the element appears
    assert not page.get_by_text("Traceback").count()
    shot = {"timeout": 120000, "animations": "disabled"}
    page.screenshot(path=str(shots / "admin-overview.png"), **shot)
    for n in (2, 3):  # the page scrolls inside Streamlit's container, not the window
        page.mouse.move(800, 500)
        page.mouse.wheel(0, 620)
        page.wait_for_timeout(1200)
        page.screenshot(path=str(shots / f"admin-overview-{n}.png"), **shot)
    page.get_by_role("link", name="Revenue").click()
    expect(page.get_by_text("Which doctor's patients brought in how much?")).to_be_visible(
        timeout=90000
    )
    page.wait_for_timeout(2000)
    page.screenshot(path=str(shots / "admin-revenue.png"), **shot)
    page.close()
