"""Lab: a doctor orders tests, the technician enters results, the patient goes back."""

from __future__ import annotations

import dataclasses as dc
import datetime as dt

import pytest
from sqlalchemy import func, select

from core.clinical import lab_worklist as worklist
from core.clinical.lab import enter_result, order_tests
from core.clock import FrozenClock
from core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from db.models import LabOrder, LabResult, QueueEvent, QueueToken
from qlink import builder
from qlink.seed.lab import COMMON_LAB_TESTS
from qlink.seed.today import LAB_NOW, seed_today
from tests.core.lab_support import patient_in_consultation, set_up_lab
from tests.support import add_doctor, add_doctor_in, register_patients


@pytest.fixture
def lab(session, clinic_a):
    return set_up_lab(session, clinic_a)


def _order(session, lab, token, *codes):
    ids = [lab.tests[c] for c in codes]
    return order_tests(session, lab.doctor, consultation_id=token.consultation_id, lab_test_ids=ids)


def _counts(session):
    return tuple(
        session.execute(select(func.count()).select_from(m)).scalar_one()
        for m in (LabOrder, LabResult, QueueEvent)
    )


def test_ordering_sends_the_token_to_the_lab_and_fills_the_worklist(session, clinic_a, lab):
    token = patient_in_consultation(session, clinic_a, lab)
    ordered = _order(session, lab, token, "FBS", "XRK")
    assert ordered.token_status == "at_lab"
    assert len(ordered.order_ids) == 2
    lab.clock.advance(minutes=3)
    other = patient_in_consultation(session, clinic_a, lab)
    _order(session, lab, other, "HB")
    items = worklist.lab_worklist(session, lab.tech, branch_id=clinic_a.branch.id)
    assert [i.test_name for i in items] == [
        "Blood sugar (fasting)",
        "X-ray knee (AP/lateral)",
        "Haemoglobin",
    ]
    assert items[0].unit == "mg/dL" and (items[0].ref_low, items[0].ref_high) == (70, 100)
    assert items[0].token_code == token.code


def test_results_are_flagged_timed_and_the_last_one_sends_the_patient_back(session, clinic_a, lab):
    token = patient_in_consultation(session, clinic_a, lab)
    fbs, xray = _order(session, lab, token, "FBS", "XRK").order_ids
    lab.clock.advance(minutes=42)
    first = enter_result(session, lab.tech, order_id=fbs, value="182", unit="mg/dl")
    assert (first.abnormal, first.turnaround_seconds, first.all_resulted) == ("high", 2520, False)
    assert session.get(QueueToken, token.id).status == "at_lab"
    lab.clock.advance(minutes=8)
    last = enter_result(session, lab.tech, order_id=xray, value="Mild medial joint space narrowing")
    assert (last.abnormal, last.all_resulted, last.returned_to_doctor) == (None, True, True)
    session.expire_all()
    back = session.get(QueueToken, token.id)
    assert (back.status, back.kind) == ("waiting", "lab_return")
    ready = session.execute(
        select(QueueEvent).where(
            QueueEvent.token_id == token.id, QueueEvent.type == "LabResultsReady"
        )
    ).scalar_one()
    assert ready.doctor_id == lab.doctor_row.id and ready.payload["abnormal"] == 1
    lines = worklist.consultation_results(
        session, lab.doctor, consultation_id=ready.payload["consultation_id"]
    )
    assert [(ln.test_name, ln.value, ln.abnormal) for ln in lines] == [
        ("Blood sugar (fasting)", "182", "high"),
        ("X-ray knee (AP/lateral)", "Mild medial joint space narrowing", None),
    ]
    assert worklist.lab_worklist(session, lab.tech, branch_id=clinic_a.branch.id) == []
    done = worklist.resulted_today(session, lab.tech, branch_id=clinic_a.branch.id)
    assert [(d.line.test_name, d.line.abnormal, d.line.turnaround_seconds) for d in done] == [
        ("X-ray knee (AP/lateral)", None, 3000),
        ("Blood sugar (fasting)", "high", 2520),
    ]


def test_a_female_patient_is_flagged_against_the_womens_range(session, clinic_a, lab):
    token = patient_in_consultation(session, clinic_a, lab, gender="female")
    (hb,) = _order(session, lab, token, "HB").order_ids
    item = worklist.lab_worklist(session, lab.tech, branch_id=clinic_a.branch.id)[0]
    assert (item.ref_low, item.ref_high) == (12, 15)
    assert enter_result(session, lab.tech, order_id=hb, value="12.5").abnormal is None


def test_low_values_are_flagged_low(session, clinic_a, lab):
    token = patient_in_consultation(session, clinic_a, lab)
    (fbs,) = _order(session, lab, token, "FBS").order_ids
    assert enter_result(session, lab.tech, order_id=fbs, value="54").abnormal == "low"


@pytest.mark.parametrize(
    ("value", "unit", "field"),
    [("high", None, "value"), ("", None, "value"), ("-3", None, "value"), ("90", "mmol/L", "unit")],
)
def test_a_bad_value_or_unit_is_refused_and_nothing_is_written(
    session, clinic_a, lab, value, unit, field
):
    token = patient_in_consultation(session, clinic_a, lab)
    (fbs,) = _order(session, lab, token, "FBS").order_ids
    before = _counts(session)
    with pytest.raises(ValidationFailed) as err:
        enter_result(session, lab.tech, order_id=fbs, value=value, unit=unit)
    assert err.value.field == field
    assert _counts(session) == before


def test_a_second_result_for_the_same_order_is_a_conflict(session, clinic_a, lab):
    token = patient_in_consultation(session, clinic_a, lab)
    (fbs,) = _order(session, lab, token, "FBS").order_ids
    enter_result(session, lab.tech, order_id=fbs, value="90")
    with pytest.raises(Conflict):
        enter_result(session, lab.tech, order_id=fbs, value="91")


@pytest.mark.parametrize("who", ["doctor", "desk"])
def test_only_lab_technicians_enter_results(session, clinic_a, lab, who):
    token = patient_in_consultation(session, clinic_a, lab)
    (fbs,) = _order(session, lab, token, "FBS").order_ids
    before = _counts(session)
    with pytest.raises(PermissionDenied):
        enter_result(session, getattr(lab, who), order_id=fbs, value="90")
    assert _counts(session) == before


@pytest.mark.parametrize("who", ["desk", "tech"])
def test_only_doctors_order_tests(session, clinic_a, lab, who):
    token = patient_in_consultation(session, clinic_a, lab)
    before = _counts(session)
    with pytest.raises(PermissionDenied):
        order_tests(
            session,
            getattr(lab, who),
            consultation_id=token.consultation_id,
            lab_test_ids=[lab.tests["FBS"]],
        )
    assert _counts(session) == before


def test_the_front_desk_cannot_read_results(session, clinic_a, lab):
    token = patient_in_consultation(session, clinic_a, lab)
    ordered = _order(session, lab, token, "FBS")
    with pytest.raises(PermissionDenied):
        worklist.consultation_results(session, lab.desk, consultation_id=ordered.consultation_id)
    with pytest.raises(PermissionDenied):
        worklist.patient_results(session, lab.desk, patient_id=token.patient_id)
    with pytest.raises(PermissionDenied):
        worklist.lab_worklist(session, lab.desk, branch_id=clinic_a.branch.id)
    with pytest.raises(PermissionDenied):
        worklist.resulted_today(session, lab.desk, branch_id=clinic_a.branch.id)


@pytest.mark.parametrize(
    ("ids", "error"),
    [([], ValidationFailed), (["FBS", "FBS"], ValidationFailed), ([10**9], NotFound)],
)
def test_bad_orders_are_refused_and_nothing_is_written(session, clinic_a, lab, ids, error):
    token = patient_in_consultation(session, clinic_a, lab)
    before = _counts(session)
    test_ids = [lab.tests.get(i, i) if isinstance(i, str) else i for i in ids]
    with pytest.raises(error):
        order_tests(
            session, lab.doctor, consultation_id=token.consultation_id, lab_test_ids=test_ids
        )
    assert _counts(session) == before
    assert session.get(QueueToken, token.id).status == "in_consultation"


def test_another_clinics_staff_get_not_found_and_write_nothing(session, clinic_a, clinic_b, lab):
    theirs = set_up_lab(session, clinic_b)
    token = patient_in_consultation(session, clinic_a, lab)
    ordered = _order(session, lab, token, "FBS")
    before = _counts(session)
    with pytest.raises(NotFound):
        enter_result(session, theirs.tech, order_id=ordered.order_ids[0], value="90")
    with pytest.raises(NotFound):
        order_tests(
            session,
            theirs.doctor,
            consultation_id=token.consultation_id,
            lab_test_ids=[theirs.tests["FBS"]],
        )
    with pytest.raises(NotFound):
        order_tests(
            session,
            lab.doctor,
            consultation_id=token.consultation_id,
            lab_test_ids=[theirs.tests["HB"]],
        )
    with pytest.raises(NotFound):
        worklist.consultation_results(
            session, theirs.doctor, consultation_id=ordered.consultation_id
        )
    with pytest.raises(NotFound):
        worklist.patient_results(session, theirs.doctor, patient_id=token.patient_id)
    with pytest.raises(NotFound):
        worklist.lab_worklist(session, theirs.tech, branch_id=clinic_a.branch.id)
    with pytest.raises(NotFound):
        worklist.resulted_today(session, theirs.tech, branch_id=clinic_a.branch.id)
    assert _counts(session) == before


def test_the_demo_day_sends_two_patients_to_the_lab(session, clinic_a):
    add_doctor(session, clinic_a)
    add_doctor_in(session, clinic_a, clinic_a.department, name="Dr. B")
    register_patients(session, clinic_a, 120)
    builder.add_lab_tests(session, clinic_a.admin, COMMON_LAB_TESTS)
    clock = FrozenClock(dt.datetime(2026, 11, 29, 13, 30, tzinfo=dt.UTC))
    seed_today(session, clinic_a.tenant.slug, clock=clock)
    tech = dc.replace(clinic_a.lab, clock=clock)
    items = worklist.lab_worklist(session, tech, branch_id=clinic_a.branch.id)
    assert len(items) == 2 * LAB_NOW
    at_lab = session.execute(
        select(func.count()).where(
            QueueToken.tenant_id == clinic_a.tenant_id, QueueToken.status == "at_lab"
        )
    ).scalar_one()
    assert at_lab == LAB_NOW
