"""The desk in headless Chromium as a receptionist uses it, beside the TV page.

The reception app runs as ``qlink ui`` runs it (``streamlit run apps/reception/main.py``, the
``st.App`` entry with the sign-in routes) in a child process on the test database; the TV
service is a live uvicorn server on the same database. Sign in, find a patient, give a token,
call next, see the TV announce it, reload and still be signed in.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.browser.streamlit_server import ROOT, serve_streamlit
from tests.web.conftest import settings_for

ENTRY = ROOT / "apps" / "reception" / "main.py"
PASSWORD = "correct-horse-1"


@pytest.fixture
def reception(db, tmp_path) -> Iterator[str]:
    """The reception app on a free port, on the test database; yields its URL."""
    settings = settings_for(db, tmp_path)
    with serve_streamlit(ENTRY, settings, tmp_path, {"QLINK_PUBLIC_URL": "http://tv.test"}) as url:
        yield url


def test_sign_in_token_call_next_reaches_the_tv_and_a_reload_stays_signed_in(
    browser, live, floor, reception, shots
):
    desk = browser.new_page(viewport={"width": 1366, "height": 768})
    desk.goto(f"{reception}/")
    expect(desk).to_have_url(f"{reception}/auth/login?next=%2F")
    desk.fill("#username", f"receptionist.{floor.clinic.tenant.slug}")
    desk.fill("#password", "wrong-password")
    desk.click("button[type=submit]")
    expect(desk.get_by_role("alert")).to_have_text("Wrong username or password")
    desk.fill("#password", PASSWORD)
    desk.click("button[type=submit]")
    search = desk.get_by_placeholder("Name, phone, last 4 digits or PAT code")
    expect(search).to_be_visible(timeout=20000)
    cookie = next(c for c in desk.context.cookies() if c["name"] == "qlink_sid")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"

    search.fill("Meena")
    expect(desk.get_by_text("Meena Iyer").first).to_be_visible(timeout=10000)
    desk.get_by_role("button", name="Token for Meena Iyer").click()
    expect(desk.locator(".ql-slip-code")).to_have_text("GEN-001", timeout=10000)
    expect(desk.get_by_text("1 waiting").first).to_be_visible(timeout=10000)
    desk.screenshot(path=str(shots / "desk-token.png"))

    tv = browser.new_page(viewport={"width": 1920, "height": 1080})
    tv.goto(f"{live.url}/signage/{floor.clinic.tenant.slug}.main")
    expect(tv.locator("#hero-code")).to_have_text("—", timeout=15000)
    desk.locator(".st-key-call_" + str(floor.doctors[0].id)).get_by_role("button").click()
    # From the click: the desk's own round trip (session check, call_next, commit) plus the
    # TV's push; measured 0.8-0.96 s on a loaded 2-core machine, so 1.5 s leaves headroom.
    expect(tv.locator("#hero-code")).to_have_text("GEN-001", timeout=1500)
    expect(desk.get_by_text("GEN-001 Meena I.").first).to_be_visible(timeout=10000)
    desk.screenshot(path=str(shots / "desk-called.png"))

    desk.reload()
    expect(search).to_be_visible(timeout=20000)
    assert "/auth/login" not in desk.url
    desk.close()
    tv.close()
