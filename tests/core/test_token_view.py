"""The patient's own page: place among the waiting (the one being seen is not ahead of you)."""

from __future__ import annotations

import datetime as dt

import pytest

from core.clock import FrozenClock
from core.errors import NotFound
from core.queue.calling import call_next
from core.queue.issuing import issue_token
from core.queue.lifecycle import start_consultation
from core.signage.token_view import token_view
from tests.support import add_doctor, at_desk, local, register_patients

MONDAY = dt.date(2026, 12, 7)


def _line(session, clinic, n, *, doctor=None):
    """``n`` walk-ins at 09:30 (for ``doctor``, or the department pool); the desk and ids."""
    desk = at_desk(clinic, FrozenClock(local(clinic, MONDAY, 9, 30)))
    patients = register_patients(session, clinic, n, "Walk")
    ids = []
    for patient_id in patients:
        token = issue_token(
            session,
            desk,
            patient_id=patient_id,
            department_id=clinic.department.id,
            kind="walk_in",
            doctor_id=doctor.id if doctor else None,
        )
        ids.append(token.id)
        desk.clock.advance(minutes=1)
    return desk, ids


def _places(session, desk, ids):
    views = [token_view(session, desk, token_id=i) for i in ids]
    return [(v.status, v.position, v.ahead) for v in views]


def test_called_patient_is_not_counted_ahead_of_the_waiting(session, clinic_a):
    doctor = add_doctor(session, clinic_a)
    desk, ids = _line(session, clinic_a, 3, doctor=doctor)
    assert _places(session, desk, ids) == [
        ("waiting", 1, 0),
        ("waiting", 2, 1),
        ("waiting", 3, 2),
    ]
    called = call_next(session, desk, doctor_id=doctor.id)
    assert called is not None and called.id == ids[0]
    assert _places(session, desk, ids) == [
        ("called", None, None),
        ("waiting", 1, 0),  # "You are next", not "2 (1 ahead of you)"
        ("waiting", 2, 1),
    ]


def test_patient_in_consultation_is_not_ahead_and_the_eta_still_waits_for_them(session, clinic_a):
    doctor = add_doctor(session, clinic_a)
    desk, ids = _line(session, clinic_a, 2, doctor=doctor)
    call_next(session, desk, doctor_id=doctor.id)
    start_consultation(session, desk, token_id=ids[0])
    view = token_view(session, desk, token_id=ids[1])
    assert (view.position, view.ahead) == (1, 0)
    assert view.minutes is not None and view.minutes > 0  # after the one being seen


def test_department_pool_place_counts_only_waiting_pool_tokens(session, clinic_a):
    add_doctor(session, clinic_a)
    desk, ids = _line(session, clinic_a, 3)
    assert [v[1:] for v in _places(session, desk, ids)] == [(1, 0), (2, 1), (3, 2)]


def test_outsider_cannot_view_another_clinics_token(session, clinic_a, clinic_b):
    doctor = add_doctor(session, clinic_a)
    _desk, ids = _line(session, clinic_a, 1, doctor=doctor)
    outsider = at_desk(clinic_b, FrozenClock(local(clinic_b, MONDAY, 9, 30)))
    with pytest.raises(NotFound):
        token_view(session, outsider, token_id=ids[0])
