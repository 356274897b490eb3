"""A clinic with a booking WhatsApp Flow, in the simulator: "Book appointment" shows the Flow
bubble with its CTA; the simulator cannot run Flow screens, so tapping the CTA books by the
list steps instead (the conversation's ``menu:book_list``)."""

from __future__ import annotations

from playwright.sync_api import expect

from core.messaging.flows.booking import set_booking_flow
from tests.browser.test_whatsapp_simulator import (
    LAST_OUT,
    open_simulator,
    say,
    tap,
    wait_for_action,
)
from tests.web.test_whatsapp_simulator import simulated  # noqa: F401  (the served simulator)


def test_the_flow_bubble_shows_its_cta_and_a_tap_runs_the_list_steps(browser, simulated):  # noqa: F811
    floor = simulated.floor
    with floor.db.transaction(floor.tenant_id) as s:
        set_booking_flow(s, floor.clinic.admin, meta_flow="1234567890")
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    open_simulator(page, simulated.server.url)
    say(page, "hi")
    say(page, "Meena Iyer")
    say(page, "34")
    wait_for_action(page)
    tap(page, "Book appointment")
    flow = page.locator(LAST_OUT)
    expect(flow).to_contain_text("WhatsApp Flow")
    cta = flow.locator(".flow-open")
    expect(cta).to_have_text("Book appointment")
    before = page.locator(".bubble.out").count()
    cta.click()
    expect(page.locator(".bubble.out").nth(before)).to_be_attached(timeout=15000)
    expect(page.locator(LAST_OUT).locator(".list-open")).to_be_visible()
    context.close()
