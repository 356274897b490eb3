"""ETAs that learn from the clinic's own calls: the issue-time wait, the bias and the band."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, update

from core.clock import FrozenClock
from core.queue.doctor_day import pause_doctor
from core.queue.eta_calibration import (
    PRIOR,
    PRIOR_BAND,
    Call,
    learn,
    learned_calibration,
    weighted_bias,
)
from core.queue.issuing import issue_token
from core.queue.place import queue_place
from core.queue.projection import project_department
from db.models import QueueToken
from db.models.queue import QueueProjection
from tests.support import add_doctor, at_desk, local, register_patients

MONDAY = dt.date(2026, 12, 7)
MIN = dt.timedelta(minutes=1)

# 30 calls predicted 20 min at issue that came after 24 (20 % late), no consultation spread.
# Clinic: its only department's 30 calls, shrunk towards no bias with weight 25:
#   bias (30 × 1.2 + 25 × 1) / 55 = 1.109091
#   late need 24 − 22.181818 = 1.818182 over 22.181818 = 0.081967;
#   band late (30 × 0.081967 + 25 × 0.45) / 55 = 0.249255, early (25 × −0.12) / 55 = −0.054545
# Department: the same calls shrunk towards the clinic's:
#   bias (30 × 1.2 + 25 × 1.109091) / 55 = 1.158678
#   late need 24 − 23.173554 = 0.826446 over 23.173554 = 0.035663;
#   band late (30 × 0.035663 + 25 × 0.249255) / 55 = 0.132750, early (25 × −0.054545) / 55
#   = −0.024793
LATE_BIAS = 1.158678


def late_calls(department_id, n=30):
    return [Call(department_id, 20.0, 0.0, 24.0) for _ in range(n)]


def test_a_department_twenty_percent_late_learns_a_shrunk_bias_and_band():
    learned = learn(late_calls(7), 7)
    assert learned.bias == pytest.approx(LATE_BIAS, abs=1e-6)
    assert learned.band.late == pytest.approx(0.132750, abs=1e-6)
    assert learned.band.early == pytest.approx(-0.024793, abs=1e-6)
    assert learned.band.floor_minutes == PRIOR_BAND.floor_minutes
    assert learned.calls == 30


def test_few_calls_teach_nothing_and_another_department_only_moves_the_clinic_level():
    assert learn(late_calls(7, n=9), 7) == PRIOR
    # department 8 has no calls: it takes the clinic's estimate (1.109091), not department 7's
    assert learn(late_calls(7), 8).bias == pytest.approx(1.109091, abs=1e-6)


def test_the_bias_is_the_wait_weighted_median_ratio():
    # ratios 0.5 (w 10), 1.0 (w 10), 2.0 (w 40): half the weight (30) is reached at 2.0
    calls = [Call(1, 10, 0, 5), Call(1, 10, 0, 10), Call(1, 40, 0, 80), Call(1, 0.5, 0, 30)]
    assert weighted_bias(calls) == 2.0  # the 0.5-min prediction does not count
    assert weighted_bias([Call(1, 0.2, 0, 9)]) is None


@pytest.fixture
def clock(clinic_a):
    return FrozenClock(local(clinic_a, MONDAY, 9))


def issue(session, clinic, clock, patient_id, doctor):
    return issue_token(
        session,
        at_desk(clinic, clock),
        patient_id=patient_id,
        department_id=clinic.department.id,
        kind="walk_in",
        doctor_id=doctor.id,
    )


def make_history(session, clinic, clock, doctor, n=30):
    """``n`` first calls of the morning, each predicted 20 min at issue and called after 24."""
    patients = register_patients(session, clinic, n, prefix="Earlier")
    ids = [issue(session, clinic, clock, pid, doctor).id for pid in patients]
    session.execute(
        update(QueueToken)
        .where(QueueToken.tenant_id == clinic.tenant_id, QueueToken.id.in_(ids))
        .values(
            status="done",
            issued_wait_minutes=20.0,
            issued_spread_minutes=0.0,
            first_called_at=clock() + 24 * MIN,  # all issued at clock()
        )
    )
    return ids


def stored(session, token_id):
    session.expire_all()
    return session.execute(
        select(QueueToken.eta_at, QueueToken.issued_wait_minutes).where(QueueToken.id == token_id)
    ).one()


def test_a_department_whose_calls_ran_late_gets_etas_later_by_the_learned_bias(
    session, clinic_a, clock
):
    doctor = add_doctor(session, clinic_a)  # 30-min slots, no consultation finished today
    make_history(session, clinic_a, clock, doctor)
    clock.advance(minutes=60)  # 10:00: all 30 calls (09:24) already happened
    now = clock()
    tokens = [
        issue(session, clinic_a, clock, p, doctor) for p in register_patients(session, clinic_a, 3)
    ]
    # raw waits 0, 30, 60 → × 1.158678 = 0, 34.76, 69.52 → whole minutes 0, 35, 70
    assert [t.eta for t in tokens] == [now, now + 35 * MIN, now + 70 * MIN]
    # the issue-time prediction stored is the model's raw wait, not the corrected one
    assert [stored(session, t.id) for t in tokens] == [
        (now, 0.0),
        (now + 35 * MIN, 30.0),
        (now + 70 * MIN, 60.0),
    ]


def test_calls_not_yet_made_do_not_count(session, clinic_a, clock):
    doctor = add_doctor(session, clinic_a)
    make_history(session, clinic_a, clock, doctor)
    # at 09:10 the calls of 09:24 are in the future: nothing learned
    clock.advance(minutes=10)
    day, now = MONDAY, clock()
    assert (
        learned_calibration(session, clinic_a.tenant_id, clinic_a.department.id, day, now) == PRIOR
    )
    later = now + 20 * MIN
    learned = learned_calibration(session, clinic_a.tenant_id, clinic_a.department.id, day, later)
    assert learned.bias == pytest.approx(LATE_BIAS, abs=1e-6)


def test_the_issue_time_wait_is_set_once_and_never_overwritten(session, clinic_a, clock):
    doctor = add_doctor(session, clinic_a)
    a, b = register_patients(session, clinic_a, 2)
    issue(session, clinic_a, clock, a, doctor)
    second = issue(session, clinic_a, clock, b, doctor)
    start = clock()
    assert stored(session, second.id) == (start + 30 * MIN, 30.0)
    clock.advance(minutes=5)
    pause_doctor(session, at_desk(clinic_a, clock), doctor_id=doctor.id, minutes=20)
    eta, wait = stored(session, second.id)
    assert eta == start + 5 * MIN + 20 * MIN + 30 * MIN  # the ETA moved with the pause
    assert wait == 30.0  # the prediction made at issue did not


def test_another_clinics_late_calls_do_not_move_this_clinics_etas(
    session, clinic_a, clinic_b, clock
):
    other = add_doctor(session, clinic_b)
    make_history(session, clinic_b, FrozenClock(local(clinic_b, MONDAY, 9)), other)
    doctor = add_doctor(session, clinic_a)
    clock.advance(minutes=60)
    now = clock()
    tokens = [
        issue(session, clinic_a, clock, p, doctor) for p in register_patients(session, clinic_a, 2)
    ]
    assert [t.eta for t in tokens] == [now, now + 30 * MIN]  # the model's own waits
    learned = learned_calibration(session, clinic_a.tenant_id, clinic_a.department.id, MONDAY, now)
    assert learned == PRIOR
    theirs = learned_calibration(session, clinic_b.tenant_id, clinic_b.department.id, MONDAY, now)
    assert theirs.bias == pytest.approx(LATE_BIAS, abs=1e-6)


def test_a_projection_keeps_what_it_learned_for_the_eta_given_at_issue(session, clinic_a, clock):
    doctor = add_doctor(session, clinic_a)
    make_history(session, clinic_a, clock, doctor)
    clock.advance(minutes=60)
    tenant_id, dept_id = clinic_a.tenant_id, clinic_a.department.id
    assert queue_place(session, tenant_id, dept_id).calibration == PRIOR  # never projected
    session.add(
        QueueProjection(tenant_id=tenant_id, department_id=dept_id, dirty_seq=1, projected_seq=0)
    )
    session.flush()
    run = project_department(session, tenant_id, dept_id, clock())
    assert run.status == "projected"
    kept = queue_place(session, tenant_id, dept_id).calibration
    assert kept.bias == pytest.approx(LATE_BIAS, abs=1e-6)
    assert kept.band.late == pytest.approx(0.132750, abs=1e-6)
    assert kept.band.early == pytest.approx(-0.024793, abs=1e-6)
