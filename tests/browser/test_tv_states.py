"""Each state of the TV and the phone page in a real browser, at 1920×1080 and 1280×720.

Idle (nobody called yet), the call flash, a busy board, reconnecting and the token page: each
is checked for what a patient 3 m away needs (nothing cut short, AA contrast while flashing)
and saved as a screenshot (``QLINK_SCREENSHOTS=dir`` keeps them to look at; else a temp dir).
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import expect

from core import tenancy
from core.scheduling.doctors import add_weekly_schedule, create_doctor
from core.signage.links import sign_token_ref
from db.models import Announcement
from qlink.asgi import create_app
from tests.browser.test_tv_page import open_tv, tv_url
from tests.web.conftest import SECRET, LiveServer, free_port, make_floor, settings_for

SIZES = [(1920, 1080), (1280, 720)]
NAMES = [
    "Ravi Kumar Sharma",
    "Meena Iyer",
    "Arjun Nair",
    "Fatima Khan",
    "Sunil Verma",
    "Priya Das",
    "Kavya Reddy",
    "Mohammed Rafi",
    "Anita Joshi",
    "Deepak Gupta",
    "Lakshmi Pillai",
    "Harpreet Singh",
]

# Text a patient must read whole: anything here scrolling past its box is cut short.
CLIPPED = """() => Array.from(document.querySelectorAll(
  '.lane, .lane .doctor, .lane .meta, .hero-room, .hero-doctor, .hero-name, .recent li, ' +
  '.wa-number, .welcome-title, .welcome-text, .clinic'
)).filter(e => e.offsetParent !== null && (e.scrollWidth > e.clientWidth + 1 ||
  (getComputedStyle(e).overflowY !== 'visible' && e.scrollHeight > e.clientHeight + 1))
).map(e => e.className + ': ' + e.textContent)"""

HERO_COLOURS = """() => {
  const css = s => getComputedStyle(document.querySelector(s));
  return {
    blink: document.getElementById('hero').classList.contains('blink'),
    background: css('#hero').backgroundColor,
    text: ['#hero-label', '#hero-code', '#hero-room', '#hero-name', '#hero-doctor']
      .map(s => css(s).color),
  };
}"""


def contrast(fg: str, bg: str) -> float:
    """WCAG 2 contrast ratio of two ``rgb(...)`` colours."""

    def luminance(colour: str) -> float:
        channels = [int(c) / 255 for c in re.findall(r"\d+", colour)[:3]]
        lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    hi, lo = sorted((luminance(fg), luminance(bg)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def with_whatsapp(floor) -> None:
    with floor.db.transaction(floor.tenant_id) as s:
        tenancy.register_whatsapp_number(
            s,
            floor.clinic.admin,
            phone_number_id=str(900000 + floor.tenant_id),
            branch_id=floor.clinic.branch.id,
            display_number="+91 99999 00001",
        )


def test_idle_screen_welcomes_lists_doctors_on_duty_and_shows_the_whatsapp_qr(
    browser, db, shots, tmp_path
):
    floor = make_floor(db, doctors=3, names=NAMES)
    with_whatsapp(floor)
    with _server(db, tmp_path) as live:
        for width, height in SIZES:
            page, errors = open_tv(browser, tv_url(live, floor), (width, height))
            expect(page.locator("#app")).to_have_class(re.compile(r"\bidle\b"))
            page.screenshot(path=str(shots / f"tv-idle-{width}x{height}.png"))
            assert "Welcome to" in page.text_content(".welcome-title")
            lanes = page.text_content("#lanes")
            for doctor, room in [("Dr. Asha Rao", "Room 1"), ("Dr. Leela Menon", "Room 3")]:
                assert doctor in lanes and room in lanes
            assert "General Medicine" in lanes
            assert page.is_visible("#wa-qr") and page.is_visible(".welcome-hint")
            assert page.evaluate("document.getElementById('wa-qr').naturalWidth") > 0
            assert page.text_content("#wa-number") == "+91 99999 00001"
            assert page.text_content("#recent") == "No calls yet today"
            assert page.evaluate(CLIPPED) == []
            assert errors == []
            page.close()


def test_idle_screen_without_a_whatsapp_number_hides_the_qr(browser, live, floor):
    page, errors = open_tv(browser, tv_url(live, floor))
    assert not page.is_visible("#whatsapp") and not page.is_visible(".welcome-hint")
    assert page.is_visible(".welcome-title") and errors == []
    page.close()


@pytest.mark.parametrize("size", SIZES, ids=["1080p", "720p"])
def test_call_flash_keeps_aa_contrast_and_the_call_lands_in_recent_calls(
    browser, live, floor, shots, size
):
    floor.issue(0)
    floor.issue(1)
    page, errors = open_tv(browser, tv_url(live, floor), size)
    floor.call()
    expect(page.locator("#hero-code")).to_have_text("GEN-001", timeout=2000)
    assert "idle" not in (page.get_attribute("#app", "class") or "")
    seen_blink = seen_plain = False
    for step in range(30):  # the flash lasts about 3.3 s
        colours = page.evaluate(HERO_COLOURS)
        for text in colours["text"]:
            assert contrast(text, colours["background"]) >= 4.5, colours
        if colours["blink"] and not seen_blink:
            seen_blink = True
            page.screenshot(path=str(shots / f"tv-flash-{size[0]}x{size[1]}.png"))
        seen_plain = seen_plain or not colours["blink"]
        page.wait_for_timeout(120 if step else 30)
    assert seen_blink and seen_plain
    assert page.locator("#recent li .code").all_text_contents() == ["GEN-001"]
    floor.call()
    expect(page.locator("#hero-code")).to_have_text("GEN-002", timeout=2000)
    assert page.locator("#recent li .code").all_text_contents() == ["GEN-002", "GEN-001"]
    assert page.evaluate(CLIPPED) == [] and errors == []
    page.close()


def test_busy_board_with_several_doctors_cuts_nothing_short(browser, db, shots, tmp_path):
    floor = make_floor(db, doctors=3, names=NAMES)
    with_whatsapp(floor)
    _paediatrics_and_notices(floor)
    for index in range(10):
        floor.issue(index, doctor=index % 3)
    floor.call(1)
    floor.call(2)
    with _server(db, tmp_path) as live:
        for width, height in SIZES:
            page, errors = open_tv(browser, tv_url(live, floor), (width, height))
            code = floor.call(0)
            expect(page.locator("#hero-code")).to_have_text(code or "", timeout=2000)
            expect(page.locator("#hero")).not_to_have_class(re.compile("blink"), timeout=6000)
            page.screenshot(path=str(shots / f"tv-busy-{width}x{height}.png"))
            assert page.locator(".lane").count() == 4
            assert "Room 4 · Paediatrics" in page.text_content("#lanes")
            assert page.evaluate(CLIPPED) == []
            assert errors == []
            page.close()
        page, _ = open_tv(browser, tv_url(live, floor))
        live.stop()
        expect(page.locator("#app")).to_have_class(re.compile("offline"), timeout=15000)
        assert page.is_visible("#status")
        page.screenshot(path=str(shots / "tv-reconnecting-1920x1080.png"))
        page.close()


def test_phone_token_page_says_you_are_next_once_the_one_ahead_is_called(
    browser, live, floor, shots
):
    floor.issue(0)
    floor.issue(1)
    floor.call()
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(hours=4)
    ref = sign_token_ref(SECRET, floor.tokens[1], floor.tenant_id, expires)
    phone = browser.new_page(viewport={"width": 390, "height": 844})
    phone.goto(f"{live.url}/t/{ref}")
    expect(phone.locator("#position")).to_have_text("You are next")
    assert phone.text_content("#headline") == "You are next"
    phone.screenshot(path=str(shots / "token-page-390x844.png"))
    phone.close()


def _paediatrics_and_notices(floor) -> None:
    with floor.db.transaction(floor.tenant_id) as s:
        ped = tenancy.create_department(
            s, floor.clinic.system, branch_id=floor.clinic.branch.id, code="PED", name="Paediatrics"
        )
        doctor = create_doctor(
            s,
            floor.clinic.admin,
            department_id=ped.id,
            full_name="Dr. Priya Mehta",
            specialization="Pediatrician",
            fee_minor=60000,
            default_room="Room 4",
        )
        add_weekly_schedule(
            s,
            floor.clinic.admin,
            doctor_id=doctor.id,
            branch_id=floor.clinic.branch.id,
            weekdays=tuple(range(7)),
            start=dt.time(0),
            end=dt.time(23, 30),
            slot_minutes=15,
        )
        now = dt.datetime.now(dt.UTC)
        for position, body in enumerate(
            [
                "Please keep your token slip ready when your number is called.",
                "Free BP and sugar check at the front desk until 1 pm.",
                "Dr. Kavita Iyer is on leave today; Gynaecology patients see Dr. Leela Menon.",
            ]
        ):
            s.add(
                Announcement(
                    tenant_id=floor.tenant_id,
                    branch_id=floor.clinic.branch.id,
                    body=body,
                    position=position,
                    starts_at=now - dt.timedelta(hours=1),
                )
            )


class _server:
    """A live server for tests that set the clinic up before it starts."""

    def __init__(self, db, tmp) -> None:
        app = create_app(settings_for(db, tmp), database=db, poll_seconds=0.05)
        self.live = LiveServer(app, free_port())

    def __enter__(self) -> LiveServer:
        return self.live.start()

    def __exit__(self, *exc: object) -> None:
        if self.live.server is not None and not self.live.server.should_exit:
            self.live.stop()
