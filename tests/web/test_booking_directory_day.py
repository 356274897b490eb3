"""The booking page's days start at the branch's date, whatever the browser's clock says."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from starlette.testclient import TestClient

from core.clock import FrozenClock
from qlink.asgi import create_app
from tests.support import add_doctor, make_clinic
from tests.web.conftest import settings_for

# 19:00 UTC on 29 November is 00:30 on 30 November in India: a browser in Europe or the
# Americas still says the 29th, which the slots endpoint refuses as past.
LATE = dt.datetime(2026, 11, 29, 19, 0, tzinfo=dt.UTC)


@pytest.fixture
def booking(db, tmp_path):
    with db.transaction("*") as s:
        clinic = make_clinic(s, f"day-{uuid.uuid4().hex[:8]}")
        doctor = add_doctor(s, clinic, weekdays=tuple(range(7)))
        clinic.branch.timezone = "Asia/Kolkata"
        doctor_id = doctor.id
    app = create_app(settings_for(db, tmp_path), database=db, clock=FrozenClock(LATE))
    with TestClient(app) as client:
        yield client, clinic, doctor_id


def test_directory_gives_each_branch_its_own_today(booking):
    client, clinic, _ = booking
    answer = client.get(f"/book/{clinic.tenant.slug}/api/directory")
    assert answer.status_code == 200
    [branch] = answer.json()["branches"]
    assert branch["today"] == "2026-11-30"


def test_the_branch_today_is_bookable_and_the_browser_yesterday_is_not(booking):
    client, clinic, doctor_id = booking
    url = f"/book/{clinic.tenant.slug}/api/slots"
    query = {"branch": clinic.branch.id, "doctor": doctor_id}
    assert client.get(url, params={**query, "date": "2026-11-30"}).status_code == 200
    refused = client.get(url, params={**query, "date": "2026-11-29"})
    assert refused.status_code == 422
