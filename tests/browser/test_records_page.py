"""The patient's records page on a 390x844 phone in headless Chromium: no CSP errors, the
patient's own visits, documents and bills, and a cancel from the page."""

from __future__ import annotations

from db.engine import Database
from tests.web.test_self_service import make_records


def test_records_page_on_a_phone(browser, live, db: Database, shots):
    rec = make_records(db)
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2)
    page = context.new_page()
    errors: list[str] = []  # failed loads (but the favicon, which this page does not have)
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("response", lambda r: errors.append(r.url) if r.status >= 400 else None)
    page.goto(f"{live.url}/me/{rec.link()}")
    assert page.get_by_role("heading", name="Hello, Meena").is_visible()
    assert page.get_by_text("Rx-Meena.pdf").is_visible()
    assert page.get_by_text("Rx-Ravi.pdf").count() == 0
    assert page.get_by_text("partially paid").is_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, "the page scrolls sideways on a phone"
    page.screenshot(path=str(shots / "records-390x844.png"))
    page.screenshot(path=str(shots / "records-390x844-full.png"), full_page=True)
    page.get_by_role("button", name="Cancel").click()
    page.wait_for_url(f"{live.url}/me/*")
    assert page.get_by_text("None booked.").is_visible()
    assert [e for e in errors if "favicon.ico" not in e and "404 (Not Found)" not in e] == []
    context.close()
