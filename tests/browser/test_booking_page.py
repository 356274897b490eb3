"""The public booking page in headless Chromium: book with the WhatsApp code, see it on the desk.

The code is read from the fake Graph server (the authentication template the relay sent); the
booking is then on the desk's day board within a second. Request mode: the patient asks for a
day and a window, the desk confirms, and the patient's confirmation goes out. Screenshots at
390x844 (phone) and 1280x800 go to $QLINK_SCREENSHOTS when set.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from core.clock import FrozenClock
from core.messaging.templates import save_template
from core.partners.keys import add_origin
from core.patients.phones import PhoneVault
from core.scheduling import web_booking, web_requests
from core.scheduling.booking import BOOKING_CONFIRMED
from core.scheduling.day_view import day_board
from core.tenancy import register_whatsapp_number
from db.engine import ALL_TENANTS, Database
from db.models import Appointment, OutboxMessage
from db.models.scheduling import BookingRequest
from qlink.asgi import create_app
from qlink.settings import Settings
from tests.fakes.graph import FakeGraph
from tests.support import Clinic, add_doctor, make_clinic
from tests.web.conftest import LiveServer, free_port

# The key every test server on this worker's shared database uses (tests/web/conftest.settings_for):
# the database keeps its fingerprint, so a server with another key refuses to start.
DATA_KEY = "k" * 43

PHONE = "98123 45678"


@dataclass
class Site:
    db: Database
    clinic: Clinic
    doctor_id: int
    server: LiveServer
    graph: FakeGraph

    @property
    def url(self) -> str:
        return f"{self.server.url}/book/{self.clinic.tenant.slug}"

    def otp(self, count: int) -> str:
        """The code of the ``count``-th authentication template the fake Graph server got."""
        bodies = [
            r.body
            for r in self.graph.wait_for(count, timeout=15)
            if r.body.get("type") == "template"
        ]
        template = bodies[count - 1]["template"]
        assert template["name"] == "qlink_otp"
        code = template["components"][0]["parameters"][0]["text"]
        assert template["components"][1] == {
            "type": "button",
            "sub_type": "url",
            "index": "0",
            "parameters": [{"type": "text", "text": code}],
        }
        return str(code)


@pytest.fixture
def site(db: Database, tmp_path: Path) -> Iterator[Site]:
    graph = FakeGraph().start()
    slug = f"bk-{uuid.uuid4().hex[:8]}"
    with db.transaction(ALL_TENANTS) as s:
        clinic = make_clinic(s, slug)
        clinic.department.name = "Orthopaedics"
        doctor = add_doctor(s, clinic, name="Dr. Asha Rao", weekdays=tuple(range(7)))
        register_whatsapp_number(
            s,
            clinic.admin,
            phone_number_id=f"15{uuid.uuid4().int % 10**10:010d}",
            branch_id=clinic.branch.id,
        )
        for name, category, body in (
            ("qlink_otp", "authentication", "{{1}} is your verification code."),
            ("qlink_booking_confirmed", "utility", "Booked: {{1}} {{2}} {{3}} {{4}}"),
        ):
            save_template(
                s,
                clinic.admin,
                name=name,
                language="en",
                category=category,
                body=body,
                status="approved",
            )
        doctor_id = doctor.id
    env = {
        "QLINK_DATABASE_URL": db.engine.url.render_as_string(hide_password=False),
        "QLINK_SECRET_KEY": "s" * 32,
        "QLINK_DATA_KEY": DATA_KEY,
        "WHATSAPP_GRAPH_URL": graph.url,
        "WHATSAPP_ACCESS_TOKEN": "test-token",
    }
    app = create_app(Settings.from_env(env, var_dir=tmp_path), database=db, poll_seconds=0.05)
    server = LiveServer(app, free_port()).start()
    try:
        yield Site(db, clinic, doctor_id, server, graph)
    finally:
        server.stop()
        graph.stop()


def _tomorrow_label(page) -> None:
    page.locator("#days .day").nth(1).click()


def test_book_on_the_page_with_the_whatsapp_code_and_see_it_on_the_desk(browser, site, shots):
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(site.url)
    page.get_by_role("button", name="Orthopaedics").click()
    page.screenshot(path=str(shots / "booking-1-specialty-390.png"), full_page=True)
    page.get_by_role("button", name="Dr. Asha Rao").click()
    _tomorrow_label(page)
    page.locator("#slots .slot").first.wait_for()
    page.screenshot(path=str(shots / "booking-2-slots-390.png"), full_page=True)
    first = page.locator("#slots .slot").first
    slot_start = first.get_attribute("data-start")
    first.click()
    page.fill("#name", "Meera Nair")
    page.fill("#phone", PHONE)
    page.fill("#age", "34")
    page.get_by_role("button", name="Send code on WhatsApp").click()
    page.locator("#step-code").wait_for()
    code = site.otp(1)
    page.fill("#code", code)
    page.screenshot(path=str(shots / "booking-3-code-390.png"), full_page=True)
    page.get_by_role("button", name="Confirm booking").click()
    page.locator("#step-done").wait_for()
    booked_at = time.monotonic()
    assert "Dr. Asha Rao" in page.locator("#done-text").inner_text()
    page.screenshot(path=str(shots / "booking-4-done-390.png"), full_page=True)

    when = dt.datetime.fromisoformat(str(slot_start))
    desk = dataclasses.replace(site.clinic.receptionist, clock=FrozenClock(when))
    with site.db.transaction(site.clinic.tenant_id, readonly=True) as s:
        zone_day = when.astimezone(web_booking.tenant_timezone(s, site.clinic.tenant_id)).date()
        board = day_board(s, desk, branch_id=site.clinic.branch.id, on_date=zone_day)
        appt = s.scalars(
            select(Appointment).where(Appointment.tenant_id == site.clinic.tenant_id)
        ).one()
    assert time.monotonic() - booked_at < 1.0
    rows = [r for d in board.doctors for r in d.rows if r.appointment_id == appt.id]
    assert len(rows) == 1 and rows[0].start == when
    assert (appt.source, appt.status) == ("web", "scheduled")
    assert errors == []

    # the confirmation goes out on WhatsApp too (template outside the window)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        names = [
            b.get("template", {}).get("name") for b in site.graph.sent_bodies() if b.get("template")
        ]
        if "qlink_booking_confirmed" in names:
            break
        time.sleep(0.05)
    else:
        raise AssertionError(f"no booking confirmation sent: {names}")
    context.close()


def test_a_wrong_code_is_refused_with_tries_left(browser, site):
    page = browser.new_page(viewport={"width": 390, "height": 844})
    page.goto(site.url)
    page.get_by_role("button", name="Orthopaedics").click()
    page.get_by_role("button", name="Dr. Asha Rao").click()
    _tomorrow_label(page)
    page.locator("#slots .slot").first.click()
    page.fill("#name", "Meera Nair")
    page.fill("#phone", "12")
    page.get_by_role("button", name="Send code on WhatsApp").click()
    assert "10-digit" in page.locator("#problem").inner_text()
    page.fill("#phone", PHONE)
    page.fill("#age", "34")
    page.get_by_role("button", name="Send code on WhatsApp").click()
    page.locator("#step-code").wait_for()
    code = site.otp(1)
    page.fill("#code", "000000" if code != "000000" else "111111")
    page.get_by_role("button", name="Confirm booking").click()
    page.locator("#problem:has-text('4 tries left')").wait_for()
    page.close()


def test_request_mode_then_the_desk_confirms_and_the_patient_is_told(browser, site, shots):
    with site.db.transaction(site.clinic.tenant_id) as s:
        web_booking.set_booking_mode(
            s, site.clinic.admin, branch_id=site.clinic.branch.id, mode="request"
        )
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(site.url)
    page.get_by_role("button", name="Orthopaedics").click()
    page.locator("#step-request").wait_for()
    page.get_by_label("Afternoon").check()
    page.screenshot(path=str(shots / "booking-request-1280.png"), full_page=True)
    page.get_by_role("button", name="Continue").click()
    page.fill("#name", "Ravi Kumar")
    page.fill("#phone", PHONE)
    page.fill("#age", "52")
    page.get_by_role("button", name="Send code on WhatsApp").click()
    page.locator("#step-code").wait_for()
    page.fill("#code", site.otp(1))
    page.get_by_role("button", name="Confirm booking").click()
    page.locator("#step-done:has-text('Request sent')").wait_for()
    page.screenshot(path=str(shots / "booking-request-done-1280.png"), full_page=True)
    page.close()

    vault = PhoneVault(DATA_KEY)
    desk = site.clinic.receptionist
    with site.db.transaction(site.clinic.tenant_id) as s:
        (row,) = web_requests.list_booking_requests(s, desk, vault=vault)
        assert (row.patient_name, row.age_years, row.window) == (
            "Ravi Kumar",
            52,
            "afternoon (12:00-16:00)",
        )
        slot = web_booking.public_slots  # the desk picks a real slot of the doctor that day
        web_booking.set_booking_mode(
            s, site.clinic.admin, branch_id=site.clinic.branch.id, mode="live"
        )
        free = slot(
            s,
            site.clinic.tenant_id,
            doctor_id=site.doctor_id,
            branch_id=site.clinic.branch.id,
            on_date=row.preferred_date,
            now=dt.datetime.now(dt.UTC),
        )
        appt = web_requests.confirm_booking_request(
            s,
            desk,
            request_id=row.id,
            doctor_id=site.doctor_id,
            slot_start=free[-1].start,
            vault=vault,
        )
        appointment_id = appt.id
    with site.db.transaction(site.clinic.tenant_id, readonly=True) as s:
        kinds = s.scalars(
            select(OutboxMessage.kind).where(
                OutboxMessage.tenant_id == site.clinic.tenant_id,
                OutboxMessage.dedupe_key == f"booked:{appointment_id}",
            )
        ).all()
    assert kinds == [BOOKING_CONFIRMED]


def test_page_headers_and_embedding(site):
    with site.db.transaction(site.clinic.tenant_id) as s:
        add_origin(s, site.clinic.admin, origin="https://citycare.example")
    response = httpx.get(site.url)
    csp = response.headers["content-security-policy"]
    assert "frame-ancestors 'self' https://citycare.example" in csp
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "x-frame-options" not in response.headers
    assert "<script>" not in response.text  # no inline script
    assert httpx.get(f"{site.server.url}/book/no-such-clinic").status_code == 404
    bad = httpx.get(f"{site.url}/api/slots", params={"branch": "x", "doctor": "1", "date": "d"})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "branch"
    embed = httpx.get(f"{site.server.url}/book/static/embed.js")
    assert embed.status_code == 200 and "iframe" in embed.text


def test_rate_limits_answer_429_with_retry_after(site):
    url = f"{site.url}/api/code"
    statuses = []
    for n in range(7):
        response = httpx.post(url, json={"phone": f"98123 4560{n}"})
        statuses.append(response.status_code)
    assert statuses[:5] == [200] * 5 and statuses[5] == 429
    assert int(response.headers["retry-after"]) >= 1


DEVANAGARI = re.compile("[\u0900-\u097f]")


def test_the_page_asked_in_hindi_is_in_hindi_and_its_switch_keeps_the_branch(site):
    branch = site.clinic.branch.id
    hindi = httpx.get(site.url, params={"branch": branch, "lang": "hi"})
    assert hindi.status_code == 200
    assert '<html lang="hi">' in hindi.text
    for text in ("अपॉइंटमेंट बुक करें", "कौन-सी शाखा?", "WhatsApp पर कोड भेजें", "बुकिंग की पुष्टि करें"):
        assert text in hindi.text
    assert "Send code on WhatsApp" not in hindi.text and "{{" not in hindi.text
    path = f"/book/{site.clinic.tenant.slug}"
    assert f'href="{path}?branch={branch}&amp;lang=en"' in hindi.text
    assert f'href="{path}?branch={branch}&amp;lang=hi"' in hindi.text
    assert 'data-lang="hi" aria-current="true"' in hindi.text

    english = httpx.get(site.url)  # no (or an unknown) ?lang=: English
    assert '<html lang="en">' in english.text and "Send code on WhatsApp" in english.text
    assert '<html lang="en">' in httpx.get(site.url, params={"lang": "xx"}).text
    assert not DEVANAGARI.search(english.text.replace("हिन्दी", ""))
    missing = httpx.get(f"{site.server.url}/book/no-such-clinic", params={"lang": "hi"})
    assert missing.status_code == 404 and "क्लिनिक नहीं मिला" in missing.text


def test_a_request_on_the_hindi_page_is_answered_in_hindi(browser, site, shots):
    with site.db.transaction(site.clinic.tenant_id) as s:
        web_booking.set_booking_mode(
            s, site.clinic.admin, branch_id=site.clinic.branch.id, mode="request"
        )
        save_template(
            s,
            site.clinic.admin,
            name="qlink_booking_proposed",
            language="hi",
            category="utility",
            body="{{1}}: {{3}} {{2}}",
            status="approved",
        )
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{site.url}?lang=hi")
    page.get_by_role("button", name="Orthopaedics").click()
    page.locator("#step-request").wait_for()
    page.get_by_label("दोपहर").check()
    page.screenshot(path=str(shots / "booking-hi-request-390.png"), full_page=True)
    page.get_by_role("button", name="आगे बढ़ें").click()
    picked = page.locator("#picked-slot").inner_text()
    assert "दोपहर" in picked and DEVANAGARI.search(picked.split("·")[1])  # the day in Hindi
    page.get_by_role("button", name="WhatsApp पर कोड भेजें").click()
    assert "मरीज़ का पूरा नाम लिखें" in page.locator("#problem").inner_text()
    page.fill("#name", "Ravi Kumar")
    page.fill("#phone", PHONE)
    page.fill("#age", "52")
    page.get_by_role("button", name="WhatsApp पर कोड भेजें").click()
    page.locator("#step-code").wait_for()
    assert "5 मिनट" in page.locator("#code-sent").inner_text()
    page.fill("#code", site.otp(1))
    page.screenshot(path=str(shots / "booking-hi-code-390.png"), full_page=True)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390  # nothing overflows the phone's width
    page.get_by_role("button", name="बुकिंग की पुष्टि करें").click()
    page.locator("#step-done:has-text('अनुरोध भेज दिया गया')").wait_for()
    page.screenshot(path=str(shots / "booking-hi-done-390.png"), full_page=True)
    assert errors == []
    context.close()

    desk = site.clinic.receptionist
    with site.db.transaction(site.clinic.tenant_id) as s:
        (row,) = web_requests.list_booking_requests(s, desk, vault=PhoneVault(DATA_KEY))
        stored = s.get(BookingRequest, row.id)
        assert stored is not None and stored.language == "hi"
        web_requests.propose_booking_request(
            s,
            desk,
            request_id=row.id,
            proposed_start=dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=2),
            doctor_id=site.doctor_id,
        )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        sent = [
            b["template"]
            for b in site.graph.sent_bodies()
            if b.get("template", {}).get("name") == "qlink_booking_proposed"
        ]
        if sent:
            break
        time.sleep(0.05)
    else:
        raise AssertionError("no proposal sent")
    (template,) = sent
    assert template["language"]["code"] == "hi"
    params = [p["text"] for p in template["components"][0]["parameters"]]
    assert params[0] == "Ravi Kumar" and DEVANAGARI.search(params[1])  # the date in Hindi


def test_the_hindi_page_shows_days_in_hindi_at_phone_width(browser, site, shots):
    page = browser.new_page(viewport={"width": 390, "height": 844})
    page.goto(f"{site.url}?lang=hi")
    page.get_by_role("button", name="Orthopaedics").click()
    assert "1 डॉक्टर" in page.locator("#specialties").inner_text()
    page.get_by_role("button", name="Dr. Asha Rao").click()
    _tomorrow_label(page)
    page.locator("#slots .slot").first.wait_for()
    day = page.locator("#days .day").nth(1).inner_text()
    assert DEVANAGARI.search(day)  # weekday and month in Hindi (hi-IN)
    page.screenshot(path=str(shots / "booking-hi-slots-390.png"), full_page=True)
    assert page.evaluate("document.body.scrollWidth") <= 390
    href = page.locator(".langs a[data-lang=en]").get_attribute("href")
    assert href == f"/book/{site.clinic.tenant.slug}?lang=en&branch={site.clinic.branch.id}"
    page.locator(".langs a[data-lang=en]").click()
    page.get_by_role("button", name="Orthopaedics").wait_for()  # the branch's specialties
    assert page.evaluate("document.documentElement.lang") == "en"
    assert f"branch={site.clinic.branch.id}" in page.url
    assert "1 doctor" in page.locator("#specialties").inner_text()
    page.close()
