"""The desk's web booking requests page through AppTest: a pending request from the public page
is confirmed into a free slot (the patient's confirmation intent is written), another is answered
with a proposed time (the WhatsApp notice intent)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from core.auth.users import authenticate
from core.patients import PhoneVault
from core.scheduling import web_booking, web_requests
from core.scheduling.booking import BOOKING_CONFIRMED
from db.engine import ALL_TENANTS, Database, make_engine
from db.migrate import upgrade
from db.models import Appointment, OutboxMessage
from db.models.scheduling import BookingRequest
from tests.support import add_doctor, make_clinic

APP = Path(__file__).resolve().parents[2] / "apps" / "reception" / "app.py"
DATA_KEY = "ui-test-data-key"
PASSWORD = "correct-horse-1"
IST = ZoneInfo("Asia/Kolkata")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    var = tmp_path_factory.mktemp("reception-requests")
    url = f"sqlite:///{var / 'qlink.db'}"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("QLINK_DATABASE_URL", url)
        env.setenv("QLINK_VAR_DIR", str(var))
        env.setenv("QLINK_DATA_KEY", DATA_KEY)
        env.delenv("QLINK_SECRET_KEY", raising=False)
        env.delenv("QLINK_TIMEZONE", raising=False)
        database = Database(make_engine(url))
        upgrade(database.engine)
        tomorrow = dt.datetime.now(IST).date() + dt.timedelta(days=1)
        vault = PhoneVault(DATA_KEY)
        with database.transaction(ALL_TENANTS) as session:
            clinic = make_clinic(session, "ui-req")
            doctor = add_doctor(session, clinic, name="Dr. Asha Rao", weekdays=tuple(range(7)))
            web_booking.set_booking_mode(
                session, clinic.admin, branch_id=clinic.branch.id, mode="request"
            )
            ids = []
            for name, phone in (("Meera Nair", "+919812345678"), ("Ravi Kumar", "+919812345679")):
                sealed = vault.seal(phone)
                row = BookingRequest(
                    tenant_id=clinic.tenant_id,
                    branch_id=clinic.branch.id,
                    department_id=clinic.department.id,
                    preferred_date=tomorrow,
                    preferred_window="morning",
                    patient_name=name,
                    age_years=40,
                    phone_cipher=sealed.cipher,
                    phone_hash=sealed.lookup_hash,
                    status="pending",
                    created_at=dt.datetime.now(dt.UTC),
                )
                session.add(row)
                session.flush()
                ids.append(row.id)
        yield database, clinic.tenant_id, doctor.id, ids, tomorrow
        database.dispose()


def signed_in(database) -> AppTest:
    with database.transaction(ALL_TENANTS) as session:
        attempt = authenticate(
            session, username="receptionist.ui-req", password=PASSWORD, now=dt.datetime.now(dt.UTC)
        )
    at = AppTest.from_file(APP, default_timeout=30)
    at.session_state["qlink_session_secret"] = attempt.unwrap()[1]
    at.run()
    at.switch_page("views/requests.py").run()
    assert not at.exception, at.exception
    return at


def test_confirm_and_propose_from_the_desk(world):
    database, tenant_id, doctor_id, (meera, ravi), tomorrow = world
    at = signed_in(database)
    text = "\n".join(m.value for m in at.markdown)
    assert "Meera Nair" in text and "Ravi Kumar" in text and "morning" in text
    assert at.selectbox(key=f"slot-{meera}").value.label == "09:00"
    at.button(key=f"confirm-{meera}").click().run()
    assert not at.exception and not at.error, (at.exception, at.error)
    at.date_input(key=f"pday-{ravi}").set_value(tomorrow + dt.timedelta(days=1)).run()
    at.text_input(key=f"note-{ravi}").input("Morning is full").run()
    at.button(key=f"propose-{ravi}").click().run()
    assert not at.exception and not at.error, (at.exception, at.error)
    assert "No pending web booking requests." in [i.value for i in at.info]
    with database.transaction(tenant_id, readonly=True) as s:
        appt = s.scalars(select(Appointment)).one()
        kinds = s.scalars(select(OutboxMessage.kind).order_by(OutboxMessage.id)).all()
        statuses = dict(s.execute(select(BookingRequest.id, BookingRequest.status)).all())
        proposed_with = s.scalar(select(BookingRequest.doctor_id).where(BookingRequest.id == ravi))
    assert appt.slot_start == dt.datetime.combine(tomorrow, dt.time(9), tzinfo=IST)
    assert appt.source == "web" and appt.doctor_id == doctor_id
    assert BOOKING_CONFIRMED in kinds and web_requests.REQUEST_PROPOSED in kinds
    assert statuses == {meera: "confirmed", ravi: "proposed"}
    assert proposed_with == doctor_id  # the doctor picked on the left: Accept on WhatsApp books it
