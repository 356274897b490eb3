"""The lab app through AppTest: the worklist, result entry with units and ranges, abnormal
values in red, turnaround, the patient back in the doctor's queue, and who may open it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.auth.users import actor_for, authenticate
from core.clinical.consultations import open_consultation
from core.clinical.lab import order_tests
from core.clinical.lab_catalogue import LabTestSpec, add_lab_test
from core.queue.calling import call_next
from db.engine import ALL_TENANTS
from db.models import LabOrder, LabResult, QueueToken, User
from tests.ui.doctor_support import PASSWORD, Room, app_database, make_room, text, walk_in

APP = Path(__file__).resolve().parents[2] / "apps" / "lab" / "app.py"


@pytest.fixture(scope="module")
def database(tmp_path_factory):
    with app_database(tmp_path_factory, "lab-ui") as database:
        yield database


@pytest.fixture
def room(database) -> Room:
    return make_room(database)


def at_lab(room: Room) -> dict[str, int]:
    """Ravi is with Dr. Iyer, who orders a fasting sugar and a knee X-ray: Ravi goes to the lab."""
    token_id = walk_in(room)
    with room.database.transaction(room.tenant_id) as session:
        admin = room.clinic.admin
        specs = (
            LabTestSpec("FBS", "Blood sugar (fasting)", "mg/dL", 70, 100),
            LabTestSpec("XRK", "X-ray knee (AP/lateral)", result_kind="text"),
        )
        tests = [add_lab_test(session, admin, spec=s).id for s in specs]
        user = session.query(User).filter_by(username=room.doctor_user).one()
        doctor = actor_for(user)
        call_next(session, doctor, doctor_id=room.doctor_id)
        cid = open_consultation(session, doctor, token_id=token_id).id
        fbs, xray = order_tests(session, doctor, consultation_id=cid, lab_test_ids=tests).order_ids
    return {"token": token_id, "fbs": fbs, "xray": xray}


def lab_app(room: Room, username: str | None = None) -> AppTest:
    """The lab app signed in as the clinic's technician (or ``username``)."""
    with room.database.transaction(ALL_TENANTS) as session:
        attempt = authenticate(
            session,
            username=username or f"lab_technician.{room.clinic.tenant.slug}",
            password=PASSWORD,
            now=dt.datetime.now(dt.UTC),
        )
    at = AppTest.from_file(APP, default_timeout=30)
    at.session_state["qlink_session_secret"] = attempt.unwrap()[1]
    at.run()
    assert not at.exception, at.exception
    return at


def test_a_doctor_or_receptionist_cannot_open_the_lab_app(room):
    for user in (room.doctor_user, room.receptionist):
        at = lab_app(room, user)
        assert "This app is for lab technicians" in text(at)
        assert not at.button


def test_the_worklist_shows_open_orders_oldest_first_with_units_and_ranges(room):
    at_lab(room)
    at = lab_app(room)
    assert not at.error, [e.value for e in at.error]
    page = text(at)
    assert "2 open" in page
    assert page.index("Blood sugar (fasting)") < page.index("X-ray knee (AP/lateral)")
    assert "Ravi Sharma" in page and "58 y · M" in page and "Dr. Kumar Iyer" in page
    assert "Reference 70–100 mg/dL" in page
    assert at.text_input(key="lab_value_" + str(_orders(room)[0])).label == "Value (mg/dL)"


def test_entering_results_flags_red_shows_turnaround_and_sends_the_patient_back(room):
    ids = at_lab(room)
    at = lab_app(room)
    at.text_input(key=f"lab_value_{ids['fbs']}").input("182")
    at.button(key=f"FormSubmitter:lab_form_{ids['fbs']}-Save").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    page = text(at)
    assert "Blood sugar (fasting) saved — HIGH · turnaround" in page
    assert ":red[**182 mg/dL HIGH**]" in page and "(ref 70–100 mg/dL)" in page
    assert "1 open" in page
    at.text_area(key=f"lab_value_{ids['xray']}").input("Medial joint space narrowing")
    at.button(key=f"FormSubmitter:lab_form_{ids['xray']}-Save").click().run()
    assert "The patient is back in the doctor's queue." in text(at)
    assert "0 open" in text(at)
    with room.database.transaction(ALL_TENANTS, readonly=True) as session:
        token = session.get(QueueToken, ids["token"])
        assert (token.status, token.kind) == ("waiting", "lab_return")
        assert session.query(LabResult).filter_by(tenant_id=room.tenant_id).count() == 2


def test_a_unit_mistake_is_shown_and_nothing_is_saved(room):
    ids = at_lab(room)
    at = lab_app(room)
    at.text_input(key=f"lab_value_{ids['fbs']}").input("high")
    at.button(key=f"FormSubmitter:lab_form_{ids['fbs']}-Save").click().run()
    assert "Blood sugar (fasting) needs a number" in [e.value for e in at.error]
    with room.database.transaction(ALL_TENANTS, readonly=True) as session:
        assert session.query(LabResult).filter_by(tenant_id=room.tenant_id).count() == 0


def _orders(room: Room) -> list[int]:
    with room.database.transaction(ALL_TENANTS, readonly=True) as session:
        rows = session.query(LabOrder.id).filter_by(tenant_id=room.tenant_id).order_by(LabOrder.id)
        return [r.id for r in rows]
