"""The TV page in a real browser: live calls, reconnect after a restart, the token page."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from qlink.asgi import create_app
from tests.web.conftest import LiveServer, make_floor, settings_for


def tv_url(live, floor, query: str = "") -> str:
    return f"{live.url}/signage/{floor.clinic.tenant.slug}.main{query}"


def open_tv(browser, url: str, size=(1920, 1080)):
    page = browser.new_page(viewport={"width": size[0], "height": size[1]})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(url)
    expect(page.locator("#app")).not_to_have_class(re.compile("connecting"), timeout=15000)
    return page, errors


def test_tv_shows_a_call_within_one_second_of_commit(browser, live, floor):
    floor.issue(0)
    floor.issue(1)
    page, errors = open_tv(browser, tv_url(live, floor))
    assert page.text_content("#hero-code") == "—"
    floor.call()
    expect(page.locator("#hero-code")).to_have_text("GEN-001", timeout=1000)
    assert page.text_content("#hero-room") == "→ Room 1"
    assert page.text_content("#hero-name") == "Ravi S."
    assert "Ravi Kumar" not in page.content()
    assert "GEN-002" in page.text_content("#lanes")
    assert errors == []
    page.close()


def test_tv_resyncs_after_a_server_restart_without_missing_or_repeating_a_call(
    browser, db, tmp_path
):
    floor = make_floor(db)
    settings = settings_for(db, tmp_path)
    first = LiveServer(create_app(settings, database=db, poll_seconds=0.05), _port()).start()
    for index in range(4):
        floor.issue(index)
    floor.call()
    page, errors = open_tv(browser, tv_url(first, floor))
    expect(page.locator("#hero-code")).to_have_text("GEN-001", timeout=15000)
    first.stop()
    expect(page.locator("#app")).to_have_class(re.compile("offline"), timeout=15000)
    assert page.is_visible("#status")
    floor.call()  # committed while the screen is cut off
    floor.call()
    second = LiveServer(create_app(settings, database=db, poll_seconds=0.05), first.port).start()
    try:
        expect(page.locator("#hero-code")).to_have_text("GEN-003", timeout=15000)
        expect(page.locator("#app")).not_to_have_class(re.compile("offline"), timeout=15000)
        recent = page.locator("#recent li .code").all_text_contents()
        assert recent == ["GEN-003", "GEN-002", "GEN-001"]  # each call once, newest first
        floor.call()
        expect(page.locator("#hero-code")).to_have_text("GEN-004", timeout=15000)
        assert page.locator("#recent li .code").all_text_contents() == [
            "GEN-004",
            "GEN-003",
            "GEN-002",
            "GEN-001",
        ]
        assert errors == []
    finally:
        page.close()
        second.stop()


def _port() -> int:
    from tests.web.conftest import free_port

    return free_port()
