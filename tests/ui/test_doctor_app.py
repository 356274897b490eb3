"""The doctor app through AppTest: the doctor's day (call, start, missed, recall, transfer,
lab, pause) and who may open it."""

from __future__ import annotations

import pytest

from db.engine import ALL_TENANTS
from db.models import Department
from tests.ui.doctor_support import (
    Room,
    app_database,
    make_room,
    signed_in,
    text,
    token,
    walk_in,
)


@pytest.fixture(scope="module")
def database(tmp_path_factory):
    with app_database(tmp_path_factory, "doctor-ui") as database:
        yield database


@pytest.fixture
def room(database) -> Room:
    return make_room(database)


@pytest.mark.parametrize("role", ["receptionist", "lab_technician", "clinic_admin"])
def test_only_a_doctor_may_open_the_doctor_app(room, role):
    at = signed_in(room, room.receptionist.replace("receptionist", role))
    assert "This app is for doctors" in text(at)
    assert not at.button  # no queue controls at all
    assert "Ravi Sharma" not in text(at)


def test_the_doctor_sees_an_empty_room_and_own_queue(room):
    walk_in(room)
    at = signed_in(room)
    assert not at.error, [e.value for e in at.error]
    page = text(at)
    assert "No patient with you" in page and "My queue · 1 waiting" in page
    assert "Ravi Sharma" in page
    assert at.button(key="doc_call_next").label == "Call next (1)"


def test_call_next_start_then_send_to_lab(room):
    token_id = walk_in(room)
    at = signed_in(room)
    at.button(key="doc_call_next").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert token(room, token_id).status == "called"
    assert "Ravi Sharma" in text(at) and "58 y · M" in text(at)
    at.button(key="doc_start").click().run()
    assert token(room, token_id).status == "in_consultation"
    at.button(key="doc_to_lab").click().run()
    assert token(room, token_id).status == "at_lab"
    assert "at the lab" in text(at)


def test_missed_then_recall_from_the_missed_list(room):
    token_id = walk_in(room)
    at = signed_in(room)
    at.button(key="doc_call_next").click().run()
    at.button(key="doc_missed").click().run()
    assert token(room, token_id).status == "missed"
    assert "Missed · 1" in text(at)
    at.button(key=f"doc_recall_{token_id}").click().run()
    assert token(room, token_id).status == "waiting"


def test_the_department_pool_is_called_too(room):
    with room.database.transaction(ALL_TENANTS) as session:
        dept = session.get(Department, room.department_id)
        dept.allocation_strategy = "pool"  # tokens wait for the first doctor who calls
    token_id = walk_in(room, pool=True)
    at = signed_in(room)
    assert "pool · 1 waiting" in text(at)
    at.button(key="doc_call_next").click().run()
    row = token(room, token_id)
    assert (row.status, row.doctor_id) == ("called", room.doctor_id)


def test_transfer_the_called_patient_to_a_colleague(room):
    token_id = walk_in(room)
    at = signed_in(room)
    at.button(key="doc_call_next").click().run()
    at.selectbox(key="doc_to").set_value(room.colleague_id)
    at.text_input(key="doc_transfer_reason").input("Needs a second opinion")
    at.button(key="doc_transfer").click().run()
    assert not at.error, [e.value for e in at.error]
    row = token(room, token_id)
    assert (row.status, row.doctor_id) == ("waiting", room.colleague_id)
    assert "No patient with you" in text(at)


def test_pause_and_resume(room):
    at = signed_in(room)
    at.button(key="doc_pause").click().run()
    assert "Your queue is paused" in text(at)
    at.button(key="doc_resume").click().run()
    assert "Your queue is paused" not in text(at)
