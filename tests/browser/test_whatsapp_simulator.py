"""A newcomer books and checks in over the WhatsApp simulator, in a real browser.

"hi" as a new number, name and age, book by tapping list rows and the Confirm button, then
"CHECKIN main" gives a token code. Screenshots at 1280×800 and a phone width
(``QLINK_SCREENSHOTS=dir`` keeps them); every tap target is checked to be finger-sized.
"""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.web.test_whatsapp_simulator import simulated  # noqa: F401  (the served simulator)

PHONE = "919876500021"
LAST_OUT = ".bubble.out >> nth=-1"
SMALL_TARGETS = """() => Array.from(
  document.querySelectorAll('.actions button, .row, .composer button'))
  .filter(e => e.offsetParent !== null)
  .map(e => e.getBoundingClientRect())
  .filter(r => r.height < 44).length"""


def say(page: Page, text: str) -> None:
    before = page.locator(".bubble.out").count()
    page.fill("#text", text)
    page.click("#send")
    expect(page.locator(".bubble.out").nth(before)).to_be_attached(timeout=15000)


def wait_for_action(page: Page) -> None:
    """Wait until the newest bubble from the clinic has something to tap."""
    expect(page.locator(LAST_OUT).locator(".actions button").first).to_be_visible(timeout=15000)


def tap(page: Page, title: str | None = None) -> None:
    """Tap a reply button, or open the newest list and tap a row (``None``: the first row)."""
    before = page.locator(".bubble.out").count()
    last = page.locator(LAST_OUT)
    opener = last.locator(".list-open")
    if opener.count():
        opener.click()
        rows = page.locator("#sheet .row")
        (rows.filter(has_text=title).first if title else rows.first).click()
        expect(page.locator("#sheet")).to_be_hidden()
    else:
        assert title is not None
        last.get_by_role("button", name=title).click()
    expect(page.locator(".bubble.out").nth(before)).to_be_attached(timeout=15000)


def open_simulator(page: Page, url: str) -> None:
    page.goto(f"{url}/simulator")
    expect(page.locator("#clinic option")).to_have_count(1)
    page.fill("#phone", PHONE)
    page.dispatch_event("#phone", "change")
    page.fill("#name", "Meena Iyer")


def test_a_new_number_books_and_checks_in_by_tapping(browser, simulated, shots):  # noqa: F811
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    open_simulator(page, simulated.server.url)

    say(page, "hi")
    expect(page.locator(LAST_OUT)).to_contain_text("full name")
    say(page, "Meena Iyer")
    expect(page.locator(LAST_OUT)).to_contain_text("How old")
    say(page, "34")
    wait_for_action(page)
    expect(page.locator(".bubble.out").filter(has_text="You are registered")).to_have_count(1)
    tap(page, "Book appointment")
    for _ in range(6):  # department (when several), doctor, date, time: the first of each
        wait_for_action(page)
        if page.locator(LAST_OUT).get_by_role("button", name="Confirm").count():
            break
        tap(page)
    page.screenshot(path=str(shots / "simulator-1280-confirm.png"))
    assert page.evaluate(SMALL_TARGETS) == 0
    tap(page, "Confirm")
    expect(page.locator(LAST_OUT)).to_contain_text(re.compile("booked|confirmed", re.I))

    say(page, "CHECKIN main")
    token = page.locator(".bubble.out").filter(has_text=re.compile(r"token", re.I)).last
    expect(token).to_contain_text(re.compile(r"[A-Z]+-?\d+"))
    expect(page.locator(".bubble.in .meta").last).to_contain_text("✓✓")
    page.screenshot(path=str(shots / "simulator-1280-checkin.png"))
    assert errors == []

    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    small = phone.new_page()
    open_simulator(small, simulated.server.url)
    expect(small.locator(".bubble.out").last).to_contain_text(re.compile("token", re.I))
    small.locator(".messages").scroll_into_view_if_needed()
    small.screenshot(path=str(shots / "simulator-390-chat.png"), full_page=True)
    small.locator(".list-open").last.click()
    expect(small.locator("#sheet .row").first).to_be_visible()
    assert small.evaluate(SMALL_TARGETS) == 0
    small.screenshot(path=str(shots / "simulator-390-list.png"))
    phone.close()
    context.close()
