"""Patients back from the lab: the doctor's queue knows whose results are ready."""

from __future__ import annotations

import pytest

from core.clinical.lab import enter_result, order_tests
from core.clinical.lab_returns import results_back
from core.errors import PermissionDenied
from core.queue.calling import call_next
from tests.core.lab_support import patient_in_consultation, set_up_lab


def test_a_patient_back_from_the_lab_is_marked_with_abnormal_results(session, clinic_a):
    lab = set_up_lab(session, clinic_a)
    visit = patient_in_consultation(session, clinic_a, lab)
    fbs, hb = order_tests(
        session, lab.doctor, consultation_id=visit.consultation_id,
        lab_test_ids=[lab.tests["FBS"], lab.tests["HB"]],
    ).order_ids  # fmt: skip
    doctor_id = lab.doctor_row.id
    lab.clock.advance(minutes=30)
    enter_result(session, lab.tech, order_id=fbs, value="182")
    assert results_back(session, lab.doctor, doctor_id=doctor_id) == {}  # one still open
    enter_result(session, lab.tech, order_id=hb, value="14")
    back = results_back(session, lab.doctor, doctor_id=doctor_id)
    assert list(back) == [visit.id]
    assert (back[visit.id].consultation_id, back[visit.id].abnormal) == (visit.consultation_id, 1)
    lab.clock.advance(minutes=1)
    assert call_next(session, lab.doctor, doctor_id=doctor_id).id == visit.id  # still marked
    assert list(results_back(session, lab.doctor, doctor_id=doctor_id)) == [visit.id]


def test_the_front_desk_may_not_read_results_back(session, clinic_a):
    lab = set_up_lab(session, clinic_a)
    with pytest.raises(PermissionDenied):
        results_back(session, lab.desk, doctor_id=lab.doctor_row.id)
