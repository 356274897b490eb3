"""The reception calendar and patient profile through AppTest: book in one click, reschedule,
cancel, overbook, the waiting list, and the profile with an audited edit.

One migrated SQLite file per module; data made through core commands and committed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from core.auth.users import authenticate
from core.patients import PhoneVault, register_patient
from core.patients.background import add_allergy
from core.scheduling.booking import book_appointment
from db.engine import ALL_TENANTS, Database, make_engine
from db.migrate import upgrade
from db.models import Appointment, AuditEntry, Patient, WaitlistEntry
from tests.support import add_doctor, make_clinic

# These tests build on one shared clinic in order and fail when pytest-xdist splits them:
# `make test` runs them after the parallel run, in one process.
pytestmark = pytest.mark.serial

APP = Path(__file__).resolve().parents[2] / "apps" / "reception" / "app.py"
DATA_KEY = "ui-test-data-key"
PASSWORD = "correct-horse-1"
IST = ZoneInfo("Asia/Kolkata")
EVERY_DAY = (0, 1, 2, 3, 4, 5, 6)


@dataclass
class Desk:
    database: Database
    tenant_id: int
    doctor_id: int
    ravi: int
    meena: int
    anil: int
    tomorrow: dt.date


@pytest.fixture(scope="module")
def desk(tmp_path_factory):
    var = tmp_path_factory.mktemp("reception-calendar")
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
        with database.transaction(ALL_TENANTS) as session:
            clinic = make_clinic(session, "ui-cal")
            doctor = add_doctor(session, clinic, name="Dr. Asha Rao", weekdays=EVERY_DAY)
            vault = PhoneVault(DATA_KEY)
            ids = [
                register_patient(
                    session, clinic.receptionist, vault=vault, full_name=name, phone=phone,
                    age_years=age, gender=gender,
                ).patient.id
                for name, phone, age, gender in (
                    ("Ravi Sharma", "9876543210", 42, "m"),
                    ("Meena Iyer", "9123456780", 30, "f"),
                    ("Anil Kapoor", "9988776655", 55, "m"),
                )
            ]  # fmt: skip
            add_allergy(session, clinic.receptionist, ids[0], substance="Penicillin")
            book_appointment(
                session, clinic.receptionist, doctor_id=doctor.id, patient_id=ids[0],
                slot_start=dt.datetime.combine(tomorrow, dt.time(10), tzinfo=IST),
            )  # fmt: skip
            desk = Desk(database, clinic.tenant_id, doctor.id, *ids, tomorrow)
        yield desk
        database.dispose()


def signed_in(desk, page="views/calendar.py") -> AppTest:
    with desk.database.transaction(ALL_TENANTS) as session:
        attempt = authenticate(
            session, username="receptionist.ui-cal", password=PASSWORD, now=dt.datetime.now(dt.UTC)
        )
    at = AppTest.from_file(APP, default_timeout=30)
    at.session_state["qlink_session_secret"] = attempt.unwrap()[1]
    at.run()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def on_tomorrow(desk) -> AppTest:
    at = signed_in(desk)
    at.date_input(key="cal_date").set_value(desk.tomorrow).run()
    assert not at.exception, at.exception
    return at


def choose(at: AppTest, query: str, patient_id: int) -> None:
    at.text_input(key="cal_query").input(query).run()
    at.button(key=f"cal_found_{patient_id}").click().run()
    assert not at.exception, at.exception


def appointments(desk, patient_id):
    with desk.database.transaction(desk.tenant_id, readonly=True) as s:
        rows = s.execute(
            select(Appointment.slot_start, Appointment.status, Appointment.overbooked)
            .where(Appointment.patient_id == patient_id)
            .order_by(Appointment.id)
        ).all()
    return [(start.astimezone(IST).strftime("%H:%M"), status, ob) for start, status, ob in rows]


def texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += [e.value for e in at.error] + [s.value for s in at.success]
    return "\n".join(parts)


def test_calendar_shows_the_grid_with_the_booking_and_free_slots(desk):
    at = on_tomorrow(desk)
    assert "Dr. Asha Rao" in texts(at)
    assert at.button(key=f"cal_free_{desk.doctor_id}_09:00").label == "Free"
    booked = [b for b in at.button if b.key and b.key.startswith("cal_scheduled_")]
    assert [b.label for b in booked] == ["○ Ravi S. · PAT0001"]


def test_patient_first_then_one_click_on_a_free_slot_books(desk):
    at = on_tomorrow(desk)
    choose(at, "meena", desk.meena)
    slot = at.button(key=f"cal_free_{desk.doctor_id}_11:00")
    assert slot.label == "＋ Book Meena"
    slot.click().run()
    assert not at.exception and not at.error
    assert "Booked Meena Iyer at 11:00 with Dr. Asha Rao" in at.success[0].value
    assert appointments(desk, desk.meena) == [("11:00", "scheduled", False)]


def test_slot_first_then_the_patient_books_it(desk):
    at = on_tomorrow(desk)
    at.button(key=f"cal_free_{desk.doctor_id}_15:00").click().run()
    assert "Book 15:00 with Dr. Asha Rao" in texts(at)
    choose(at, "anil", desk.anil)
    assert appointments(desk, desk.anil)[-1] == ("15:00", "scheduled", False)


def test_reschedule_keeps_the_old_booking_cancelled(desk):
    at = on_tomorrow(desk)
    (ravi,) = [b for b in at.button if b.key and b.key.startswith("cal_scheduled_")
               and "Ravi" in b.label]  # fmt: skip
    ravi.click().run()
    assert at.selectbox(key="cal_move_slot").value is not None
    at.button(key="cal_move").click().run()
    assert not at.exception and not at.error, at.error
    moved = appointments(desk, desk.ravi)
    assert moved[0] == ("10:00", "cancelled", False) and moved[1][1] == "scheduled"


def test_cancel_records_the_reason(desk):
    at = on_tomorrow(desk)
    (meena,) = [b for b in at.button if b.key and "Meena" in b.label]
    meena.click().run()
    at.selectbox(key="cal_cancel_reason").set_value("Patient asked").run()
    at.button(key="cal_cancel").click().run()
    assert not at.exception and not at.error
    assert "Cancelled Meena I. at 11:00 (Patient asked)" in at.success[0].value
    with desk.database.transaction(desk.tenant_id, readonly=True) as s:
        reasons = s.scalars(
            select(Appointment.cancel_reason).where(Appointment.patient_id == desk.meena)
        ).all()
    assert reasons == ["Patient asked"]


def test_overbook_a_full_slot_is_offered_and_audited(desk):
    at = on_tomorrow(desk)
    choose(at, "meena", desk.meena)
    at.button(key=f"cal_ob_{desk.doctor_id}_15:00").click().run()
    assert not at.exception and not at.error, at.error
    assert appointments(desk, desk.meena)[-1] == ("15:00", "scheduled", True)
    with desk.database.transaction(desk.tenant_id, readonly=True) as s:
        actions = s.scalars(select(AuditEntry.action)).all()
    assert "appointment.overbook" in actions


def test_waiting_list_entry_gets_the_freed_slot_and_accepts(desk):
    at = on_tomorrow(desk)
    choose(at, "ravi", desk.ravi)
    at.button(key="cal_wl_add").click().run()
    assert "Ravi Sharma is on the waiting list." in at.success[0].value
    at.button(key="cal_change_patient").click().run()
    (anil,) = [b for b in at.button if b.key and b.key.startswith("cal_scheduled_")
               and "Anil" in b.label]  # fmt: skip
    anil.click().run()
    at.button(key="cal_cancel").click().run()
    assert "offered to Ravi S." in texts(at)
    (accept,) = [b for b in at.button if b.key and b.key.startswith("cal_wl_accept_")]
    accept.click().run()
    assert not at.exception and not at.error, at.error
    assert appointments(desk, desk.ravi)[-1] == ("15:00", "scheduled", False)
    with desk.database.transaction(desk.tenant_id, readonly=True) as s:
        assert s.scalars(select(WaitlistEntry.status)).all() == ["booked"]


def test_profile_shows_the_patient_and_history_and_saves_an_audited_edit(desk):
    at = signed_in(desk, "views/patient.py")
    at.text_input(key="profile_query").input("ravi").run()
    at.button(key=f"profile_found_{desk.ravi}").click().run()
    assert not at.exception and not at.error, at.error
    page = texts(at)
    assert "Ravi Sharma" in page and "98XXXXXX10" in page and "Penicillin" in page
    assert "9876543210" not in page
    tabs = [t.label for t in at.tabs]
    assert tabs[0].startswith("Appointments (") and tabs[3] == "Bills (0)"
    history = at.dataframe[0].value
    assert "Dr. Asha Rao" in set(history["Who"]) and "cancelled" in set(history["Status"])
    at.text_input(key="pe_email").input("ravi@example.in")
    at.button(key=f"FormSubmitter:profile_edit_{desk.ravi}-Save changes").click().run()
    assert not at.exception and not at.error, at.error
    with desk.database.transaction(desk.tenant_id, readonly=True) as s:
        assert s.get(Patient, desk.ravi).email == "ravi@example.in"
        updates = s.scalars(
            select(AuditEntry.detail).where(AuditEntry.action == "patient.update")
        ).all()
    assert updates and "email" in str(updates[-1])


def test_a_booking_on_the_calendar_opens_the_profile(desk):
    at = on_tomorrow(desk)
    (booked, *_) = [b for b in at.button if b.key and b.key.startswith("cal_scheduled_")]
    booked.click().run()
    at.button(key="cal_booking_profile").click().run()
    assert not at.exception, at.exception
    assert any("Allergies" in m.value for m in at.markdown)


def test_a_result_on_the_patients_page_opens_the_profile(desk):
    at = signed_in(desk, "views/patients.py")
    at.text_input(key="patient_query").input("ravi").run()
    at.button(key=f"patients_profile_{desk.ravi}").click().run()
    assert not at.exception, at.exception
    page = "\n".join(m.value for m in at.markdown)
    assert "Ravi Sharma" in page and "Penicillin" in page  # the profile's header and allergies
    assert at.button(key="profile_other").label == "Other patient"
