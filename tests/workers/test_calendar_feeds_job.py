"""The ticker's calendar-feed job: a doctor's ICS feed served on loopback is read into busy
blocks that remove the public page's slots; a feed that fails keeps its last blocks."""

from __future__ import annotations

import datetime as dt
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from zoneinfo import ZoneInfo

from core.clock import FrozenClock
from core.scheduling import calendar_feeds, web_booking
from db.engine import ALL_TENANTS
from db.models.scheduling import CalendarFeed
from tests.support import add_doctor, make_clinic
from workers.ticker import fetch_feed, message_jobs, refresh_calendar_feeds

IST = ZoneInfo("Asia/Kolkata")
NOW = dt.datetime(2026, 12, 1, 4, 0, tzinfo=dt.UTC)
MONDAY = dt.date(2026, 12, 7)
FEED_HOST = "https://calendar.example"
FEED = b"""BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//EN
BEGIN:VEVENT
UID:surgery
DTSTART;TZID=Asia/Kolkata:20261207T090000
DTEND;TZID=Asia/Kolkata:20261207T100000
END:VEVENT
END:VCALENDAR
"""


class _Feed(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(type(self).status)
        self.send_header("Content-Type", "text/calendar")
        self.end_headers()
        self.wfile.write(FEED if type(self).status == 200 else b"")

    def log_message(self, *_args: object) -> None:
        pass


def test_the_job_reads_due_feeds_into_busy_blocks(db):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Feed)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    loopback = f"http://127.0.0.1:{server.server_address[1]}"

    def fetch(url: str) -> tuple[bytes | None, str | None]:
        # core takes https feeds only; the real fetch reads the plain-http loopback stand-in
        return fetch_feed(url.replace(FEED_HOST, loopback))

    try:
        with db.transaction(ALL_TENANTS) as s:
            clinic = make_clinic(s)
            doctor = add_doctor(s, clinic)
            feed = calendar_feeds.set_calendar_feed(
                s, clinic.admin, doctor_id=doctor.id, url=f"{FEED_HOST}/doctor.ics"
            )
            tenant_id, doctor_id, branch_id, feed_id = (
                clinic.tenant_id,
                doctor.id,
                clinic.branch.id,
                feed.id,
            )
        clock = FrozenClock(NOW)
        assert "calendar_feeds" in message_jobs(db, clock)
        assert refresh_calendar_feeds(db, clock, fetch) == 1

        def labels() -> list[str]:
            with db.transaction(tenant_id, readonly=True) as s:
                return [
                    x.label
                    for x in web_booking.public_slots(
                        s,
                        tenant_id,
                        doctor_id=doctor_id,
                        branch_id=branch_id,
                        on_date=MONDAY,
                        now=NOW,
                    )
                ]

        assert labels()[:2] == ["10:00", "10:30"]  # 09:00 and 09:30 are busy in the feed
        _Feed.status = 500
        clock.at = NOW + dt.timedelta(minutes=11)
        assert refresh_calendar_feeds(db, clock, fetch) == 1
        with db.transaction(tenant_id, readonly=True) as s:
            row = s.get(CalendarFeed, feed_id)
            assert row.last_error == "HTTP 500" and row.busy
        assert labels()[:1] == ["10:00"]
        assert refresh_calendar_feeds(db, clock, fetch) == 0  # read a moment ago: not due
    finally:
        _Feed.status = 200
        server.shutdown()
        server.server_close()
