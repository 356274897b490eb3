"""The desk page through AppTest: search, register, token, check-in, call next, pause, delay.

A receptionist's session is signed in through core and handed to the app (AppTest cannot send
the cookie the /auth/login route sets). Each test uses its own clinic in one migrated SQLite
file, so queues never leak between tests; the database is checked after each action.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from core.auth.users import authenticate, create_user
from core.errors import PermissionDenied
from core.patients import PhoneVault, register_patient
from core.queue.issuing import issue_token
from core.queue.lifecycle import cancel_token
from core.scheduling.booking import book_appointment
from db.engine import ALL_TENANTS, Database, make_engine
from db.migrate import upgrade
from db.models import Appointment, DoctorSession, OutboxMessage, QueueToken
from qlink import builder
from qlink.builder import DoctorSpec, Hours
from tests.support import make_clinic

APP = Path(__file__).resolve().parents[2] / "apps" / "reception" / "app.py"
DATA_KEY = "ui-test-data-key"
PASSWORD = "correct-horse-1"
IST = ZoneInfo("Asia/Kolkata")
ALL_DAY = Hours((0, 1, 2, 3, 4, 5, 6), start=dt.time(0), end=dt.time(23, 30), breaks=())


@dataclass
class Front:
    database: Database
    tenant_id: int
    receptionist: str
    doctor_user: str
    doctor_id: int
    department_id: int
    ravi_id: int
    appointment_id: int | None


@pytest.fixture(scope="module")
def database(tmp_path_factory):
    var = tmp_path_factory.mktemp("desk-ui")
    url = f"sqlite:///{var / 'qlink.db'}"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("QLINK_DATABASE_URL", url)
        env.setenv("QLINK_VAR_DIR", str(var))
        env.setenv("QLINK_DATA_KEY", DATA_KEY)
        env.delenv("QLINK_SECRET_KEY", raising=False)
        env.delenv("QLINK_TIMEZONE", raising=False)
        env.delenv("QLINK_PUBLIC_URL", raising=False)
        database = Database(make_engine(url))
        upgrade(database.engine)
        yield database
        database.dispose()


def next_slot() -> dt.datetime | None:
    """A free half-hour slot later today on the clinic's clock (None near midnight)."""
    now = dt.datetime.now(IST)
    start = now.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)
    return start if start.date() == now.date() and start.time() < dt.time(23) else None


@pytest.fixture
def front(database) -> Front:
    slug = f"d{uuid.uuid4().hex[:8]}"
    with database.transaction(ALL_TENANTS) as session:
        clinic = make_clinic(session, slug)
        spec = DoctorSpec("Dr. Asha Rao", fee_minor=50000, room="Room 1", hours=(ALL_DAY,))
        doctor = builder.add_doctor(session, clinic.admin, department=clinic.department, spec=spec)
        create_user(
            session, clinic.admin, username=f"doc.{slug}", password=PASSWORD,
            full_name="Asha Rao", role="doctor", doctor_id=doctor.id,
        )  # fmt: skip
        ravi = register_patient(
            session, clinic.receptionist, vault=PhoneVault(DATA_KEY), full_name="Ravi Sharma",
            phone="9876543210", age_years=42, gender="m",
        ).patient  # fmt: skip
        slot = next_slot()
        appointment = None
        if slot is not None:
            appointment = book_appointment(
                session, clinic.receptionist, doctor_id=doctor.id, patient_id=ravi.id,
                slot_start=slot,
            )  # fmt: skip
        return Front(
            database, clinic.tenant_id, f"receptionist.{slug}", f"doc.{slug}", doctor.id,
            clinic.department.id, ravi.id, appointment.id if appointment else None,
        )  # fmt: skip


def signed_in(front: Front, username: str | None = None) -> AppTest:
    with front.database.transaction(ALL_TENANTS) as session:
        attempt = authenticate(
            session, username=username or front.receptionist, password=PASSWORD,
            now=dt.datetime.now(dt.UTC),
        )  # fmt: skip
    at = AppTest.from_file(APP, default_timeout=30)
    at.session_state["qlink_session_secret"] = attempt.unwrap()[1]
    at.run()
    assert not at.exception, at.exception
    return at


def text(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += [e.value for e in at.error] + [w.value for w in at.warning]
    parts += [s.value for s in at.success]
    return "\n".join(parts)


def tokens(front: Front) -> list[QueueToken]:
    with front.database.transaction(ALL_TENANTS, readonly=True) as session:
        rows = session.scalars(select(QueueToken).where(QueueToken.tenant_id == front.tenant_id))
        return list(rows)


def find_ravi(at: AppTest) -> AppTest:
    at.text_input(key="desk_query").input("ravi").run()
    assert not at.exception and not at.error
    return at


def test_desk_is_the_receptionists_home_with_each_doctors_live_queue(front):
    at = signed_in(front)
    assert not at.error
    page = text(at)
    assert "Desk" in page and "Dr. Asha Rao" in page and "0 waiting" in page
    assert at.button(key=f"call_{front.doctor_id}").label == "Call next"


def test_search_finds_the_patient_and_one_click_gives_a_walk_in_token(front):
    at = find_ravi(signed_in(front))
    assert "PAT0001" in at.radio(key="desk_pick").options[0]
    at.button(key="desk_issue").click().run()
    assert not at.exception and not at.error
    (token,) = tokens(front)
    assert (token.patient_id, token.kind, token.status) == (front.ravi_id, "walk_in", "waiting")
    assert token.doctor_id == front.doctor_id
    page = text(at)
    assert token.code in page and "1 waiting" in page  # the slip and the live queue
    assert at.image, "the slip shows the QR of the token's live page"


def test_an_emergency_token_to_the_department_pool(front):
    at = find_ravi(signed_in(front))
    at.button_group(key="desk_kind").set_value("emergency")
    at.selectbox(key="desk_target").set_value(("dept", front.department_id))
    at.button(key="desk_issue").click().run()
    assert not at.error
    (token,) = tokens(front)
    assert token.kind == "emergency" and token.department_id == front.department_id


def test_register_on_the_spot_then_token_and_the_duplicate_warning(front):
    at = signed_in(front)
    at.text_input(key="desk_query").input("Meena Iyer").run()
    assert "No patient matches" in text(at)
    at.text_input(key="reg_phone").input("91234 56780")
    at.number_input(key="reg_age").set_value(30)
    at.button(key="reg_submit").click().run()
    assert not at.error, [e.value for e in at.error]
    assert "Registered PAT0002 Meena Iyer" in text(at)
    at.button(key="desk_issue").click().run()
    assert [t.patient_id for t in tokens(front)] != [front.ravi_id]
    at.text_input(key="desk_query").input("Ravi Sharmaa").run()
    at.text_input(key="reg_name").input("Ravi Sharma")
    at.text_input(key="reg_phone").input("9876543210")
    at.button(key="reg_submit").click().run()
    assert "Possible duplicate: **PAT0001** · Ravi Sharma" in text(at)


def test_check_in_of_todays_appointment_issues_a_booked_token(front):
    if front.appointment_id is None:
        pytest.skip("no free slot left today on the clinic's clock")
    at = find_ravi(signed_in(front))
    at.button(key=f"checkin_{front.appointment_id}").click().run()
    assert not at.error
    (token,) = tokens(front)
    assert token.kind == "booked" and token.appointment_id == front.appointment_id
    with front.database.transaction(ALL_TENANTS, readonly=True) as session:
        assert session.get(Appointment, front.appointment_id).status == "checked_in"


def test_call_next_then_missed_then_recall(front):
    at = find_ravi(signed_in(front))
    at.button(key="desk_issue").click().run()
    at.button(key=f"call_{front.doctor_id}").click().run()
    assert not at.error
    (token,) = tokens(front)
    assert token.status == "called"
    assert f"{token.code} Ravi S." in text(at)
    at.button(key="tok_missed").click().run()
    assert tokens(front)[0].status == "missed"
    at.button(key="tok_recall").click().run()
    assert tokens(front)[0].status == "waiting" and not at.error


def test_pause_and_resume_the_doctor(front):
    at = signed_in(front)
    at.button(key=f"pause_{front.doctor_id}").click().run()
    assert not at.error and "Paused" in text(at)
    assert at.button(key=f"call_{front.doctor_id}").disabled
    assert session_of(front).status == "paused"
    at.button(key=f"resume_{front.doctor_id}").click().run()
    assert session_of(front).status != "paused"


def test_delay_broadcast_reaches_the_waiting_patients_through_the_outbox(front):
    at = find_ravi(signed_in(front))
    at.button(key="desk_issue").click().run()
    at.number_input(key=f"delay_min_{front.doctor_id}").set_value(20)
    at.button(key=f"delay_{front.doctor_id}").click().run()
    assert not at.error and "Delayed 20 min" in text(at)
    assert session_of(front).delay_minutes == 20
    with front.database.transaction(ALL_TENANTS, readonly=True) as session:
        kinds = session.scalars(
            select(OutboxMessage.kind).where(OutboxMessage.tenant_id == front.tenant_id)
        ).all()
    assert "whatsapp.delay" in kinds


def test_a_doctor_gets_no_desk_and_core_refuses_desk_commands(front):
    at = signed_in(front, front.doctor_user)
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("views/desk.py")
    with pytest.raises(ValueError, match="Could not find"):  # billing: no page, or not theirs
        at.switch_page("views/billing.py")
    with front.database.transaction(ALL_TENANTS) as session:
        doctor = authenticate(
            session, username=front.doctor_user, password=PASSWORD, now=dt.datetime.now(dt.UTC)
        ).unwrap()[0]
    with front.database.transaction(front.tenant_id) as session, pytest.raises(PermissionDenied):
        issue_token(
            session, doctor, patient_id=front.ravi_id, department_id=front.department_id,
            kind="walk_in",
        )  # fmt: skip
    with front.database.transaction(front.tenant_id) as session, pytest.raises(PermissionDenied):
        cancel_token(session, doctor, token_id=1)


def session_of(front: Front) -> DoctorSession:
    with front.database.transaction(ALL_TENANTS, readonly=True) as session:
        row = session.scalar(
            select(DoctorSession).where(DoctorSession.doctor_id == front.doctor_id)
        )
    assert row is not None
    return row


def test_the_picked_result_opens_the_patients_profile(front):
    at = find_ravi(signed_in(front))
    at.button(key="desk_profile").click().run()
    assert not at.exception, at.exception
    page = text(at)
    assert "Ravi Sharma" in page and "No known allergies" in page
    assert at.button(key="profile_other").label == "Other patient"
