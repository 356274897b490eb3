"""The reception app through Streamlit's AppTest: signed-in pages, day board, patient search.

One migrated SQLite file per module; the app finds it through the same environment variables
production uses. Data is made through core commands and committed, as a real desk would see it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update
from streamlit.testing.v1 import AppTest

from core.auth.users import authenticate, sign_out
from core.patients import PhoneVault, register_patient
from core.scheduling.booking import book_appointment
from db.engine import ALL_TENANTS, Database, make_engine
from db.migrate import upgrade
from db.models import AuditEntry, UserSession
from tests.support import add_doctor, make_clinic

APP = Path(__file__).resolve().parents[2] / "apps" / "reception" / "app.py"
DATA_KEY = "ui-test-data-key"
PASSWORD = "correct-horse-1"
PHONE_DIGITS = "9876543210"
IST = ZoneInfo("Asia/Kolkata")
EVERY_DAY = (0, 1, 2, 3, 4, 5, 6)


@dataclass
class Desk:
    database: Database
    clinic_name: str
    tenant_id: int
    receptionist: str
    lab: str
    tomorrow: dt.date


def tomorrow_in_clinic() -> dt.date:
    return dt.datetime.now(IST).date() + dt.timedelta(days=1)


@pytest.fixture(scope="module")
def desk(tmp_path_factory):
    var = tmp_path_factory.mktemp("reception-ui")
    url = f"sqlite:///{var / 'qlink.db'}"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("QLINK_DATABASE_URL", url)
        env.setenv("QLINK_VAR_DIR", str(var))
        env.setenv("QLINK_DATA_KEY", DATA_KEY)
        env.delenv("QLINK_SECRET_KEY", raising=False)
        env.delenv("QLINK_TIMEZONE", raising=False)
        database = Database(make_engine(url))
        upgrade(database.engine)
        tomorrow = tomorrow_in_clinic()
        with database.transaction(ALL_TENANTS) as session:
            clinic = make_clinic(session, "ui-desk")
            doctor = add_doctor(session, clinic, name="Dr. Asha Rao", weekdays=EVERY_DAY)
            vault = PhoneVault(DATA_KEY)
            ravi = register_patient(
                session, clinic.receptionist, vault=vault, full_name="Ravi Sharma",
                phone=PHONE_DIGITS, age_years=42, gender="m",
            ).patient  # fmt: skip
            register_patient(session, clinic.receptionist, vault=vault, full_name="Meena Iyer",
                             phone="91234 56780", age_years=30, gender="f")  # fmt: skip
            book_appointment(
                session, clinic.receptionist, doctor_id=doctor.id, patient_id=ravi.id,
                slot_start=dt.datetime.combine(tomorrow, dt.time(10), tzinfo=IST),
            )  # fmt: skip
            desk = Desk(database, clinic.tenant.name, clinic.tenant_id,
                        "receptionist.ui-desk", "lab_technician.ui-desk", tomorrow)  # fmt: skip
        yield desk
        database.dispose()


def app() -> AppTest:
    return AppTest.from_file(APP, default_timeout=30)


def session_for(desk, username: str) -> str:
    """Sign in through core, as the /auth/login route does (AppTest cannot send the cookie)."""
    with desk.database.transaction(ALL_TENANTS) as session:
        attempt = authenticate(
            session, username=username, password=PASSWORD, now=dt.datetime.now(dt.UTC)
        )
    return attempt.unwrap()[1]


def signed_in(desk, username=None) -> AppTest:
    at = app()
    at.session_state["qlink_session_secret"] = session_for(desk, username or desk.receptionist)
    at.run()
    assert not at.exception, at.exception
    return at


def rendered_text(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += [e.value for e in at.error] + [i.value for i in at.info]
    parts += [df.value.to_csv() for df in at.dataframe]
    return "\n".join(parts)


def test_signed_out_visitor_is_pointed_at_the_sign_in_form(desk):
    at = app().run()
    assert not at.exception
    assert at.title[0].value == "QLink reception"
    assert 'href="/auth/login"' in at.markdown[-1].value


def test_receptionist_lands_on_the_desk_and_the_board_opens_on_today_in_clinic_time(desk):
    at = signed_in(desk)
    assert at.text_input(key="desk_query") is not None  # the desk is her home page
    at.switch_page("views/day_board.py").run()
    assert at.date_input(key="board_date").value == dt.datetime.now(IST).date()
    sidebar = " ".join(m.value for m in at.sidebar.markdown)
    assert desk.clinic_name in sidebar and "Receptionist of ui-desk" in sidebar
    assert "Dr. Asha Rao" in rendered_text(at)


def test_board_shows_the_doctor_the_masked_booking_and_free_slots(desk):
    at = signed_in(desk)
    at.switch_page("views/day_board.py").run()
    at.date_input(key="board_date").set_value(desk.tomorrow).run()
    assert not at.exception and not at.error
    board = rendered_text(at)
    assert "Dr. Asha Rao" in board and "General Medicine" in board
    assert "Ravi S." in board and "PAT0001" in board and "Scheduled: 1" in board
    assert board.count('"ql-who">free</span>') == 13
    assert "Ravi Sharma" not in board and "Sharma" not in board


def test_patient_search_by_name_shows_a_masked_phone_only(desk):
    at = signed_in(desk)
    at.switch_page("views/patients.py").run()
    at.text_input(key="patient_query").input("ravi").run()
    assert not at.exception and not at.error
    table = at.dataframe[0].value
    assert table.to_dict("records") == [
        {"Code": "PAT0001", "Name": "Ravi Sharma", "Age": 42, "Gender": "Male",
         "Phone": "98XXXXXX10"},
    ]  # fmt: skip
    assert PHONE_DIGITS not in rendered_text(at) and "98765" not in rendered_text(at)
    with desk.database.transaction(ALL_TENANTS, readonly=True) as session:
        searches = session.scalars(
            select(AuditEntry.action).where(
                AuditEntry.tenant_id == desk.tenant_id, AuditEntry.action == "patient.search"
            )
        ).all()
    assert searches


def test_patient_search_by_last_four_digits_and_with_no_match(desk):
    at = signed_in(desk)
    at.switch_page("views/patients.py").run()
    at.text_input(key="patient_query").input("6780").run()
    assert at.dataframe[0].value["Name"].tolist() == ["Meena Iyer"]
    at.text_input(key="patient_query").input("nobody-like-this").run()
    assert not at.dataframe and "No patient matches" in at.info[0].value


@pytest.mark.parametrize("page", ["views/desk.py", "views/day_board.py", "views/patients.py"])
def test_every_page_renders_without_exception(desk, page):
    at = signed_in(desk)
    at.switch_page(page).run()
    assert not at.exception
    assert not at.error


def test_lab_technician_gets_patients_but_not_the_board(desk):
    at = signed_in(desk, desk.lab)
    assert at.text_input(key="patient_query") is not None
    assert not at.date_input
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("views/day_board.py")


def test_a_session_signed_out_elsewhere_goes_back_to_sign_in(desk):
    at = signed_in(desk)
    secret = at.session_state["qlink_session_secret"]
    assert 'href="/auth/logout"' in " ".join(m.value for m in at.sidebar.markdown)
    with desk.database.transaction(ALL_TENANTS) as session:
        sign_out(session, secret, now=dt.datetime.now(dt.UTC))
    at.run()
    assert "qlink_session_secret" not in at.session_state
    assert 'href="/auth/login"' in at.markdown[-1].value


def test_idle_session_goes_back_to_sign_in_with_a_message(desk):
    at = signed_in(desk)
    with desk.database.transaction(ALL_TENANTS) as session:
        session.execute(
            update(UserSession)
            .where(UserSession.tenant_id == desk.tenant_id)
            .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
        )
    at.run()
    assert "qlink_session_secret" not in at.session_state
    assert 'href="/auth/login"' in at.markdown[-1].value
    assert [w.value for w in at.warning] == ["Your session has expired; please sign in again"]
