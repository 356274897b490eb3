"""The patient's token page: signed, expiring links; position, ETA, doctor, room; live."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest

from core.signage.links import (
    LinkExpired,
    LinkInvalid,
    link_expiry,
    sign_token_ref,
    verify_token_ref,
)
from tests.web.conftest import SECRET, SseReader

NOW = dt.datetime(2026, 12, 7, 6, 0, tzinfo=dt.UTC)


def link(floor, index: int, *, secret: str = SECRET, hours: float = 6) -> str:
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(hours=hours)
    return sign_token_ref(secret, floor.tokens[index], floor.tenant_id, expires)


def test_signed_ref_round_trips_and_rejects_tampering_and_expiry():
    expires = NOW + dt.timedelta(hours=2)
    ref = sign_token_ref("s3cret", 42, 7, expires)
    assert verify_token_ref("s3cret", ref, now=NOW).token_id == 42
    payload, signature = ref.split(".")
    forged = sign_token_ref("s3cret", 43, 7, expires).split(".")[0] + "." + signature
    for bad in (forged, ref + "x", ref[:-2], "nonsense", payload + ".!!!!", ""):
        with pytest.raises(LinkInvalid):
            verify_token_ref("s3cret", bad, now=NOW)
    with pytest.raises(LinkInvalid):
        verify_token_ref("another-secret", ref, now=NOW)
    with pytest.raises(LinkExpired):
        verify_token_ref("s3cret", ref, now=expires)


def test_links_expire_hours_after_the_service_day_ends_on_the_branch_clock():
    from zoneinfo import ZoneInfo

    expiry = link_expiry(dt.date(2026, 12, 7), ZoneInfo("Asia/Kolkata"))
    assert expiry == dt.datetime(2026, 12, 8, 0, 30, tzinfo=dt.UTC)  # 06:00 IST next day


def test_token_page_shows_position_eta_doctor_room_and_masked_name(live, floor):
    floor.issue(0)
    floor.issue(1)
    floor.issue(2)
    response = httpx.get(f"{live.url}/t/{link(floor, 2)}")
    assert response.status_code == 200
    page = response.text
    assert "GEN-003" in page and "Arjun N." in page and "Arjun Nair" not in page
    assert "2 people ahead of you" in page
    assert "Dr. Asha Rao" in page and "Room 1" in page and "about " in page
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"


def test_tampered_or_expired_link_is_a_friendly_403(live, floor):
    floor.issue(0)
    good = link(floor, 0)
    tampered = good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB")
    for ref in (tampered, link(floor, 0, secret="wrong"), link(floor, 0, hours=-1)):
        response = httpx.get(f"{live.url}/t/{ref}")
        assert response.status_code == 403
        assert "Traceback" not in response.text and "reception desk" in response.text
        assert httpx.get(f"{live.url}/t/{ref}/events").status_code == 403


def test_link_to_another_clinics_token_id_finds_nothing(live, floor, db):
    from tests.web.conftest import make_floor

    other = make_floor(db)
    other.issue(0)
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    ref = sign_token_ref(SECRET, other.tokens[0], floor.tenant_id, expires)
    assert httpx.get(f"{live.url}/t/{ref}").status_code == 404


def test_token_stream_updates_when_the_queue_moves(live, floor, sse):
    from core.queue.lifecycle import finish_token, start_consultation

    floor.issue(0)
    floor.issue(1)
    reader = SseReader(f"{live.url}/t/{link(floor, 1)}/events")
    sse.append(reader)
    first = reader.next("token").data
    assert first["token"]["ahead"] == 1 and first["position"] == "1 person ahead of you"
    floor.call()  # the patient called in is being seen, no longer ahead in the line
    moved = until(reader, lambda d: d["token"]["ahead"] == 0)
    assert moved["headline"] == "You are next" and moved["position"] == "You are next"
    with floor.db.transaction(floor.tenant_id) as s:
        start_consultation(s, floor.clinic.receptionist, token_id=floor.tokens[0])
    with floor.db.transaction(floor.tenant_id) as s:
        finish_token(s, floor.clinic.receptionist, token_id=floor.tokens[0])
    floor.call()
    called = until(reader, lambda d: d["token"]["status"] == "called")
    assert called["headline"] == "Please go to Room 1 now"
    assert called["token"]["position"] is None


def until(reader, predicate):
    """The first token update satisfying ``predicate`` (intermediate ones are skipped)."""
    while True:
        data = reader.next("token").data
        if predicate(data):
            return data
