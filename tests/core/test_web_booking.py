"""Web booking: modes, codes over WhatsApp, live booking, requests staff answer, ICS busy."""

from __future__ import annotations

import dataclasses
import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from core.clock import FrozenClock
from core.errors import NotFound, PermissionDenied, SlotTaken, ValidationFailed
from core.messaging.graph_body import build_body
from core.messaging.messages import SEND, from_payload
from core.messaging.templates import save_template
from core.patients.phones import PhoneVault
from core.scheduling import calendar_feeds, web_booking, web_requests
from core.scheduling.booking import BOOKING_CANCELLED, BOOKING_CONFIRMED
from core.scheduling.day_view import day_board
from core.tenancy import register_whatsapp_number
from db.models import Appointment, AuditEntry, OutboxMessage, Patient
from tests.support import add_doctor

VAULT = PhoneVault("test-key")
IST = ZoneInfo("Asia/Kolkata")
MONDAY = dt.date(2026, 12, 7)
NOW = dt.datetime(2026, 12, 1, 4, 0, tzinfo=dt.UTC)
PHONE = "+919812345678"


def at(hour: int, minute: int = 0, day: dt.date = MONDAY) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=IST)


@pytest.fixture
def web(session, clinic_a):
    doctor = add_doctor(session, clinic_a)
    register_whatsapp_number(
        session, clinic_a.admin, phone_number_id="1500001", branch_id=clinic_a.branch.id
    )
    save_template(
        session,
        clinic_a.admin,
        name="qlink_otp",
        language="en",
        category="authentication",
        body="{{1}} is your verification code.",
        status="approved",
    )
    session.flush()
    return clinic_a, doctor


def last_send(session, clinic) -> OutboxMessage:
    """The clinic's newest send (the test database is shared: other clinics' rows are there)."""
    return session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.tenant_id == clinic.tenant_id, OutboxMessage.kind == SEND)
        .order_by(OutboxMessage.id.desc())
    ).first()


def code_sent(session, clinic, phone: str = PHONE) -> str:
    recipient, message = from_payload(last_send(session, clinic).payload)
    assert recipient.wa_id == phone.lstrip("+")
    return message.params[0]


def verified(session, clinic, now=NOW) -> str:
    web_booking.issue_code(session, clinic.tenant_id, phone=PHONE, vault=VAULT, now=now)
    check = web_booking.verify_code(
        session,
        clinic.tenant_id,
        phone=PHONE,
        code=code_sent(session, clinic),
        vault=VAULT,
        now=now,
    )
    assert check.ok
    return check.ticket


def test_code_goes_out_as_the_authentication_template_and_is_hashed_at_rest(session, web):
    clinic, _ = web
    web_booking.issue_code(session, clinic.tenant_id, phone=PHONE, vault=VAULT, now=NOW)
    code = code_sent(session, clinic)
    recipient, message = from_payload(last_send(session, clinic).payload)
    body = build_body(recipient, message)
    assert body["template"]["name"] == "qlink_otp"
    assert body["template"]["components"] == [
        {"type": "body", "parameters": [{"type": "text", "text": code}]},
        {
            "type": "button",
            "sub_type": "url",
            "index": "0",
            "parameters": [{"type": "text", "text": code}],
        },
    ]
    stored = session.scalars(
        select(web_booking.WebBookingCode)
        .where(web_booking.WebBookingCode.tenant_id == clinic.tenant_id)
        .order_by(web_booking.WebBookingCode.id.desc())
    ).first()
    assert code not in (stored.code_hash, stored.salt, stored.phone_hash)


def test_wrong_codes_are_counted_then_refused_and_codes_expire(session, web):
    clinic, _ = web
    web_booking.issue_code(session, clinic.tenant_id, phone=PHONE, vault=VAULT, now=NOW)
    code = code_sent(session, clinic)
    wrong = "000000" if code != "000000" else "111111"
    checks = [
        web_booking.verify_code(
            session, clinic.tenant_id, phone=PHONE, code=wrong, vault=VAULT, now=NOW
        )
        for _ in range(5)
    ]
    assert [c.attempts_left for c in checks] == [4, 3, 2, 1, 0]
    right = web_booking.verify_code(
        session, clinic.tenant_id, phone=PHONE, code=code, vault=VAULT, now=NOW
    )
    assert not right.ok and "Too many" in right.reason
    later = NOW + dt.timedelta(minutes=1)
    web_booking.issue_code(session, clinic.tenant_id, phone=PHONE, vault=VAULT, now=later)
    late = web_booking.verify_code(
        session,
        clinic.tenant_id,
        phone=PHONE,
        code=code_sent(session, clinic),
        vault=VAULT,
        now=later + dt.timedelta(minutes=5),
    )
    assert not late.ok and "expired" in late.reason
    with pytest.raises(ValidationFailed):
        web_booking.verify_code(
            session, clinic.tenant_id, phone=PHONE, code="12ab", vault=VAULT, now=NOW
        )


def test_resend_limits(session, web):
    clinic, _ = web
    issue = web_booking.issue_code
    issue(session, clinic.tenant_id, phone=PHONE, vault=VAULT, now=NOW)
    with pytest.raises(web_booking.TooManyCodes) as gap:
        issue(
            session, clinic.tenant_id, phone=PHONE, vault=VAULT, now=NOW + dt.timedelta(seconds=10)
        )
    assert gap.value.retry_after == 20
    issue(session, clinic.tenant_id, phone=PHONE, vault=VAULT, now=NOW + dt.timedelta(minutes=1))
    issue(session, clinic.tenant_id, phone=PHONE, vault=VAULT, now=NOW + dt.timedelta(minutes=2))
    with pytest.raises(web_booking.TooManyCodes):
        issue(
            session, clinic.tenant_id, phone=PHONE, vault=VAULT, now=NOW + dt.timedelta(minutes=3)
        )
    issue(session, clinic.tenant_id, phone=PHONE, vault=VAULT, now=NOW + dt.timedelta(minutes=16))


def test_live_booking_with_a_ticket_is_on_the_desk_and_confirmed(session, web):
    clinic, doctor = web
    slots = web_booking.public_slots(
        session,
        clinic.tenant_id,
        doctor_id=doctor.id,
        branch_id=clinic.branch.id,
        on_date=MONDAY,
        now=NOW,
    )
    assert [s.label for s in slots][:3] == ["09:00", "09:30", "10:00"]
    ticket = verified(session, clinic)
    booking = web_booking.book_online(
        session,
        clinic.tenant_id,
        ticket=ticket,
        phone=PHONE,
        full_name="Meera  Nair",
        age_years=34,
        doctor_id=doctor.id,
        branch_id=clinic.branch.id,
        slot_start=at(9),
        vault=VAULT,
        now=NOW,
    )
    appt = session.get(Appointment, booking.appointment_id)
    assert (appt.source, appt.status, booking.local_start.strftime("%H:%M")) == (
        "web",
        "scheduled",
        "09:00",
    )
    intents = session.scalars(
        select(OutboxMessage.kind).where(OutboxMessage.tenant_id == clinic.tenant_id)
    ).all()
    assert BOOKING_CONFIRMED in intents
    desk = dataclasses.replace(clinic.receptionist, clock=FrozenClock(NOW))
    view = day_board(session, desk, on_date=MONDAY, branch_id=clinic.branch.id)
    booked = [r for d in view.doctors for r in d.rows if r.appointment_id == appt.id]
    assert [(r.label, r.status) for r in booked] == [("09:00", "scheduled")]
    with pytest.raises(web_booking.TicketInvalid):  # one use only
        web_booking.book_online(
            session,
            clinic.tenant_id,
            ticket=ticket,
            phone=PHONE,
            full_name="Meera Nair",
            age_years=34,
            doctor_id=doctor.id,
            branch_id=clinic.branch.id,
            slot_start=at(10),
            vault=VAULT,
            now=NOW,
        )


def test_a_new_patient_booking_on_the_hindi_page_is_registered_in_hindi(session, web):
    clinic, doctor = web
    booking = web_booking.book_online(
        session,
        clinic.tenant_id,
        ticket=verified(session, clinic),
        phone=PHONE,
        full_name="Meera Nair",
        age_years=34,
        doctor_id=doctor.id,
        branch_id=clinic.branch.id,
        slot_start=at(9),
        vault=VAULT,
        now=NOW,
        language="hi",
    )
    appt = session.get(Appointment, booking.appointment_id)
    patient = session.get(Patient, appt.patient_id)
    assert patient.preferred_language == "hi"  # the confirmation and reminders follow it


def test_a_taken_slot_offers_the_next_free_ones(session, web):
    clinic, doctor = web
    ticket = verified(session, clinic)
    web_booking.book_online(
        session,
        clinic.tenant_id,
        ticket=ticket,
        phone=PHONE,
        full_name="Meera Nair",
        age_years=34,
        doctor_id=doctor.id,
        branch_id=clinic.branch.id,
        slot_start=at(9),
        vault=VAULT,
        now=NOW,
    )
    other = "+919812345679"
    web_booking.issue_code(session, clinic.tenant_id, phone=other, vault=VAULT, now=NOW)
    code = code_sent(session, clinic, phone=other)
    ticket2 = web_booking.verify_code(
        session, clinic.tenant_id, phone=other, code=code, vault=VAULT, now=NOW
    ).ticket
    with pytest.raises(SlotTaken) as taken:
        web_booking.book_online(
            session,
            clinic.tenant_id,
            ticket=ticket2,
            phone=other,
            full_name="Ravi Kumar",
            age_years=50,
            doctor_id=doctor.id,
            branch_id=clinic.branch.id,
            slot_start=at(9),
            vault=VAULT,
            now=NOW,
        )
    assert [s.label for s in taken.value.alternatives] == ["09:30", "10:00", "10:30"]


def test_modes_are_admin_only_audited_and_gate_the_flows(session, web, clinic_b):
    clinic, doctor = web
    with pytest.raises(PermissionDenied):
        web_booking.set_booking_mode(
            session, clinic.receptionist, branch_id=clinic.branch.id, mode="request"
        )
    with pytest.raises(NotFound):
        web_booking.set_booking_mode(
            session, clinic_b.admin, branch_id=clinic.branch.id, mode="request"
        )
    web_booking.set_booking_mode(session, clinic.admin, branch_id=clinic.branch.id, mode="request")
    assert web_booking.booking_mode(session, clinic.tenant_id, clinic.branch.id) == "request"
    actions = session.scalars(
        select(AuditEntry.action).where(AuditEntry.tenant_id == clinic.tenant_id)
    ).all()
    assert "web_booking.mode" in actions
    directory = web_booking.public_directory(session, clinic.tenant_id)
    assert [b.mode for b in directory.branches] == ["request"]
    assert [d.name for d in directory.doctors] == [doctor.full_name]
    with pytest.raises(ValidationFailed):
        web_booking.public_slots(
            session,
            clinic.tenant_id,
            doctor_id=doctor.id,
            branch_id=clinic.branch.id,
            on_date=MONDAY,
            now=NOW,
        )
    with pytest.raises(NotFound):  # another clinic's branch through this clinic's page
        web_booking.public_slots(
            session,
            clinic_b.tenant_id,
            doctor_id=doctor.id,
            branch_id=clinic.branch.id,
            on_date=MONDAY,
            now=NOW,
        )


def test_request_then_staff_confirm_tells_the_patient(session, web):
    clinic, doctor = web
    web_booking.set_booking_mode(session, clinic.admin, branch_id=clinic.branch.id, mode="request")
    ticket = verified(session, clinic)
    request = web_requests.request_booking(
        session,
        clinic.tenant_id,
        ticket=ticket,
        phone=PHONE,
        full_name="Meera Nair",
        age_years=34,
        branch_id=clinic.branch.id,
        preferred_date=MONDAY,
        window="morning",
        vault=VAULT,
        now=NOW,
    )
    desk = dataclasses.replace(clinic.receptionist, clock=FrozenClock(NOW))
    rows = web_requests.list_booking_requests(session, desk, vault=VAULT)
    assert [(r.id, r.patient_name, r.phone) for r in rows] == [
        (request.id, "Meera Nair", rows[0].phone)
    ]
    assert rows[0].phone.endswith("78") and "123456" not in rows[0].phone
    appt = web_requests.confirm_booking_request(
        session, desk, request_id=request.id, doctor_id=doctor.id, slot_start=at(10), vault=VAULT
    )
    assert (appt.source, request.status, request.appointment_id) == ("web", "confirmed", appt.id)
    confirmed = session.scalars(
        select(OutboxMessage.payload).where(
            OutboxMessage.tenant_id == clinic.tenant_id, OutboxMessage.kind == BOOKING_CONFIRMED
        )
    ).all()
    assert {"appointment_id": appt.id} in confirmed
    with pytest.raises(Exception, match="already answered"):
        web_requests.propose_booking_request(
            session, desk, request_id=request.id, proposed_start=at(11)
        )


def test_request_propose_writes_the_notice(session, web):
    clinic, _ = web
    web_booking.set_booking_mode(session, clinic.admin, branch_id=clinic.branch.id, mode="request")
    ticket = verified(session, clinic)
    request = web_requests.request_booking(
        session,
        clinic.tenant_id,
        ticket=ticket,
        phone=PHONE,
        full_name="Meera Nair",
        age_years=None,
        branch_id=clinic.branch.id,
        preferred_date=MONDAY,
        window="evening",
        vault=VAULT,
        now=NOW,
    )
    desk = dataclasses.replace(clinic.receptionist, clock=FrozenClock(NOW))
    web_requests.propose_booking_request(
        session, desk, request_id=request.id, proposed_start=at(11), note="Evening is full"
    )
    kinds = session.scalars(
        select(OutboxMessage.kind).where(OutboxMessage.tenant_id == clinic.tenant_id)
    ).all()
    assert web_requests.REQUEST_PROPOSED in kinds
    assert request.status == "proposed"


ICS = b"""BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//EN
BEGIN:VEVENT
UID:a
DTSTART;TZID=Asia/Kolkata:20261207T100000
DTEND;TZID=Asia/Kolkata:20261207T110000
SUMMARY:Surgery
END:VEVENT
BEGIN:VEVENT
UID:b
DTSTART:20261207T093000Z
DTEND:20261207T100000Z
TRANSP:TRANSPARENT
END:VEVENT
BEGIN:VFREEBUSY
UID:c
FREEBUSY:20261207T090000Z/PT30M
END:VFREEBUSY
END:VCALENDAR
"""


def test_calendar_feed_busy_times_remove_offered_slots(session, web, clinic_b):
    clinic, doctor = web
    with pytest.raises(NotFound):
        calendar_feeds.set_calendar_feed(
            session, clinic_b.admin, doctor_id=doctor.id, url="https://cal.example/a.ics"
        )
    feed = calendar_feeds.set_calendar_feed(
        session, clinic.admin, doctor_id=doctor.id, url="https://cal.example/a.ics"
    )
    due = calendar_feeds.due_feeds(session, now=NOW)
    assert [(d.tenant_id, d.feed_id) for d in due] == [(clinic.tenant_id, feed.id)]
    calendar_feeds.refresh_feed(
        session, clinic.tenant_id, feed.id, content=ICS, error=None, now=NOW
    )
    slots = web_booking.public_slots(
        session,
        clinic.tenant_id,
        doctor_id=doctor.id,
        branch_id=clinic.branch.id,
        on_date=MONDAY,
        now=NOW,
    )
    labels = [s.label for s in slots]
    # 10:00-11:00 IST busy (event), 14:30-15:00 IST busy (09:00Z free-busy), 09:30 transparent
    assert "10:00" not in labels and "10:30" not in labels and "14:30" not in labels
    assert {"09:00", "09:30", "11:00", "14:00", "15:00"} <= set(labels)
    calendar_feeds.refresh_feed(
        session, clinic.tenant_id, feed.id, content=b"garbage", error=None, now=NOW
    )
    assert feed.last_error and "10:00" not in [
        s.label
        for s in web_booking.public_slots(
            session,
            clinic.tenant_id,
            doctor_id=doctor.id,
            branch_id=clinic.branch.id,
            on_date=MONDAY,
            now=NOW,
        )
    ]


DST_ICS = b"""BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//EN
BEGIN:VEVENT
UID:weekly
DTSTART;TZID=Europe/London:20261019T090000
DTEND;TZID=Europe/London:20261019T100000
RRULE:FREQ=WEEKLY;COUNT=3
END:VEVENT
BEGIN:VEVENT
UID:floating
DTSTART:20261026T120000
DTEND:20261026T130000
END:VEVENT
END:VCALENDAR
"""


def test_parse_busy_is_dst_correct():
    london = ZoneInfo("Europe/London")
    start = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
    blocks = calendar_feeds.parse_busy(DST_ICS, london, start, start + dt.timedelta(days=60))
    utc = [(a.strftime("%m-%d %H:%M"), b.strftime("%H:%M")) for a, b in blocks]
    # BST (UTC+1) on 19 Oct, GMT from 25 Oct: 09:00 local stays 09:00 local
    assert ("10-19 08:00", "09:00") in utc
    assert ("10-26 09:00", "10:00") in utc
    assert ("11-02 09:00", "10:00") in utc
    assert ("10-26 12:00", "13:00") in utc  # floating time read in the clinic's zone (GMT)


def test_notices_render_for_the_relay_and_reminders_cover_web_bookings(session, web):
    from core.messaging import notify
    from core.messaging.reminders import REMINDER_24H, write_reminders

    clinic, doctor = web
    ticket = verified(session, clinic)
    booking = web_booking.book_online(
        session,
        clinic.tenant_id,
        ticket=ticket,
        phone=PHONE,
        full_name="Meera Nair",
        age_years=34,
        doctor_id=doctor.id,
        branch_id=clinic.branch.id,
        slot_start=at(9),
        vault=VAULT,
        now=NOW,
    )
    day_before = at(9) - dt.timedelta(hours=20)
    assert write_reminders(session, now=day_before) >= 1
    due = session.scalars(
        select(OutboxMessage.payload).where(
            OutboxMessage.tenant_id == clinic.tenant_id, OutboxMessage.kind == REMINDER_24H
        )
    ).all()
    assert {"appointment_id": booking.appointment_id} in due

    desk = dataclasses.replace(clinic.receptionist, clock=FrozenClock(NOW))
    web_booking.cancel_web_booking(
        session, desk, appointment_id=booking.appointment_id, reason="Travelling"
    )
    cancelled = notify.render(
        session,
        clinic.tenant_id,
        BOOKING_CANCELLED,
        {"appointment_id": booking.appointment_id},
        VAULT,
    )
    assert cancelled.recipient.wa_id == PHONE.lstrip("+")
    assert (
        "is cancelled" in cancelled.message.body and "07 Dec 2026, 09:00" in cancelled.message.body
    )
    assert cancelled.fallback.name == "qlink_booking_cancelled"

    web_booking.set_booking_mode(session, clinic.admin, branch_id=clinic.branch.id, mode="request")
    request = web_requests.request_booking(
        session,
        clinic.tenant_id,
        ticket=verified(session, clinic, NOW + dt.timedelta(minutes=1)),
        phone=PHONE,
        full_name="Meera Nair",
        age_years=34,
        branch_id=clinic.branch.id,
        preferred_date=MONDAY,
        window="any",
        vault=VAULT,
        now=NOW,
    )
    web_requests.propose_booking_request(
        session, desk, request_id=request.id, proposed_start=at(11), note="Bring old reports."
    )
    proposed = notify.render(
        session, clinic.tenant_id, web_requests.REQUEST_PROPOSED, {"request_id": request.id}, VAULT
    )
    assert "07 Dec 2026, 11:00" in proposed.message.body
    assert "Bring old reports." in proposed.message.body
    assert proposed.fallback.name == "qlink_booking_proposed"
    assert proposed.fallback.params == ("Meera Nair", "07 Dec 2026, 11:00", "Main branch")
