"""The TV page in a real browser: live calls, reconnect after a restart, the token page."""

from __future__ import annotations

import datetime as dt
import re

from playwright.sync_api import expect

from db.models import Announcement
from qlink.asgi import create_app
from tests.web.conftest import SECRET, LiveServer, make_floor, settings_for


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
        assert recent == ["GEN-002", "GEN-001"]  # each call once, newest first
        floor.call()
        expect(page.locator("#hero-code")).to_have_text("GEN-004", timeout=15000)
        assert page.locator("#recent li .code").all_text_contents() == [
            "GEN-003",
            "GEN-002",
            "GEN-001",
        ]
        assert errors == []
    finally:
        page.close()
        second.stop()


def test_screenshots_of_a_busy_morning(browser, db, tmp_path, shots):
    from core import tenancy
    from core.scheduling.doctors import create_doctor
    from core.signage.links import sign_token_ref

    names = [
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
    floor = make_floor(db, doctors=3, names=names)
    with db.transaction(floor.tenant_id) as s:
        ped = tenancy.create_department(
            s, floor.clinic.system, branch_id=floor.clinic.branch.id, code="PED", name="Paediatrics"
        )
        create_doctor(
            s,
            floor.clinic.admin,
            department_id=ped.id,
            full_name="Dr. Priya Mehta",
            specialization="Pediatrician",
            fee_minor=60000,
            default_room="Room 4",
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
    for index in range(10):
        floor.issue(index, doctor=index % 3)
    floor.call(1)
    floor.call(2)
    settings = settings_for(db, tmp_path)
    live = LiveServer(create_app(settings, database=db, poll_seconds=0.05), _port()).start()
    try:
        for size in ((1920, 1080), (1280, 720)):
            page, errors = open_tv(browser, tv_url(live, floor), size)
            floor_call = floor.call(0) if size[0] == 1920 else None
            expect(page.locator("#hero-code")).not_to_have_text("—", timeout=15000)
            page.wait_for_timeout(3500)  # let the call animation finish
            page.screenshot(path=str(shots / f"tv-{size[0]}x{size[1]}.png"))
            assert errors == [] and (floor_call is None or floor_call.startswith("GEN"))
            page.close()
        page, _ = open_tv(browser, tv_url(live, floor))
        live_port = live.port
        live.stop()
        expect(page.locator("#app")).to_have_class(re.compile("offline"), timeout=15000)
        page.screenshot(path=str(shots / "tv-reconnecting.png"))
        page.close()
        live = LiveServer(create_app(settings, database=db), live_port).start()
        expires = dt.datetime.now(dt.UTC) + dt.timedelta(hours=4)
        ref = sign_token_ref(SECRET, floor.tokens[9], floor.tenant_id, expires)
        phone = browser.new_page(viewport={"width": 390, "height": 844})
        phone.goto(f"{live.url}/t/{ref}")
        phone.wait_for_timeout(1000)
        phone.screenshot(path=str(shots / "token-page.png"))
        assert "GEN-010" in phone.text_content("#code")
        phone.goto(f"{live.url}/t/{ref[:-4]}AAAA")
        phone.screenshot(path=str(shots / "token-page-invalid.png"))
        phone.close()
    finally:
        live.stop()


def _port() -> int:
    from tests.web.conftest import free_port

    return free_port()
