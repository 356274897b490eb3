"""Which doctor a department token goes to: the five strategies and who counts as on duty."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from core import tenancy
from core.clock import FrozenClock
from core.queue.calling import call_next
from core.queue.doctor_day import announce_delay, pause_doctor
from core.queue.issuing import issue_token
from core.queue.lifecycle import start_consultation
from core.scheduling.doctors import add_leave
from db.models import QueueEvent, QueueToken
from tests.support import add_doctor_in, at_desk, local, register_patients

MONDAY = dt.date(2026, 12, 7)


@pytest.fixture
def clock(clinic_a):
    return FrozenClock(local(clinic_a, MONDAY, 9))


@pytest.fixture
def desk(clinic_a, clock):
    return at_desk(clinic_a, clock)


def department(session, clinic, strategy, code="OPD"):
    return tenancy.create_department(
        session,
        clinic.system,
        branch_id=clinic.branch.id,
        code=code,
        name=f"Outpatients ({strategy})",
        allocation_strategy=strategy,
    )


def doctors(session, clinic, dept, n, **kw):
    return [add_doctor_in(session, clinic, dept, name=f"Dr. {i + 1}", **kw) for i in range(n)]


def issue_many(session, desk, clinic, dept, n, kind="walk_in"):
    """Issue ``n`` department tokens to fresh patients; return the doctors they went to."""
    ids = [
        issue_token(session, desk, patient_id=p, department_id=dept.id, kind=kind).id
        for p in register_patients(session, clinic, n, f"{dept.code} patient")
    ]
    return assigned(session, ids)


def assigned(session, token_ids):
    session.expire_all()
    rows = dict(
        session.execute(
            select(QueueToken.id, QueueToken.doctor_id).where(QueueToken.id.in_(token_ids))
        ).all()
    )
    return [rows[i] for i in token_ids]


def named(session, desk, dept, doctor, patient_id, kind="walk_in"):
    return issue_token(
        session, desk, patient_id=patient_id, department_id=dept.id, kind=kind, doctor_id=doctor.id
    )


# --- round robin ------------------------------------------------------------------------------


def test_round_robin_cycles_the_on_duty_doctors_in_id_order(session, clinic_a, desk):
    dept = department(session, clinic_a, "round_robin")
    d1, d2, d3 = (d.id for d in doctors(session, clinic_a, dept, 3))
    assert issue_many(session, desk, clinic_a, dept, 7) == [d1, d2, d3, d1, d2, d3, d1]
    payloads = session.scalars(
        select(QueueEvent.payload).where(
            QueueEvent.tenant_id == clinic_a.tenant_id, QueueEvent.type == "TokenIssued"
        )
    ).all()
    assert {p["allocated_by"] for p in payloads} == {"round_robin"}
    assert {p["queue_key"] for p in payloads} == {f"dept:{dept.id}"}


def test_round_robin_is_not_moved_by_tokens_issued_to_a_named_doctor(session, clinic_a, desk):
    dept = department(session, clinic_a, "round_robin")
    d1, d2, d3 = doctors(session, clinic_a, dept, 3)
    assert issue_many(session, desk, clinic_a, dept, 1) == [d1.id]
    (p,) = register_patients(session, clinic_a, 1, "Named")
    named(session, desk, dept, d3, p)
    assert issue_many(session, desk, clinic_a, dept, 2) == [d2.id, d3.id]


def test_paused_doctor_is_skipped_unless_everybody_is_paused(session, clinic_a, desk):
    dept = department(session, clinic_a, "round_robin")
    d1, d2, d3 = doctors(session, clinic_a, dept, 3)
    pause_doctor(session, desk, doctor_id=d2.id, minutes=30)
    assert issue_many(session, desk, clinic_a, dept, 4) == [d1.id, d3.id, d1.id, d3.id]
    pause_doctor(session, desk, doctor_id=d1.id, minutes=30)
    pause_doctor(session, desk, doctor_id=d3.id, minutes=30)
    # nobody is free: the token still goes to someone rather than to nobody
    assert issue_many(session, desk, clinic_a, dept, 3) == [d1.id, d2.id, d3.id]


# --- least busy and shortest wait -------------------------------------------------------------


def busy_but_quick_vs_idle_but_slow(session, clinic, desk, clock, dept):
    """Dr. 1 (10-min average) has two patients waiting: expected wait 2 × 10 = 20 min.
    Dr. 2 (30-min average) started a consultation 5 min ago: 30 - 5 = 25 min, fewer tokens."""
    quick = add_doctor_in(session, clinic, dept, name="Dr. 1", slot_minutes=10)
    slow = add_doctor_in(session, clinic, dept, name="Dr. 2", slot_minutes=30)
    a, b, c = register_patients(session, clinic, 3, "Named")
    named(session, desk, dept, quick, a)
    named(session, desk, dept, quick, b)
    in_room = named(session, desk, dept, slow, c)
    assert call_next(session, desk, doctor_id=slow.id).id == in_room.id
    start_consultation(session, desk, token_id=in_room.id)
    clock.advance(minutes=5)
    return quick, slow


def test_least_busy_picks_fewest_tokens_on_hand(session, clinic_a, desk, clock):
    dept = department(session, clinic_a, "least_busy")
    quick, slow = busy_but_quick_vs_idle_but_slow(session, clinic_a, desk, clock, dept)
    # on hand: Dr. 1 two waiting; Dr. 2 one in consultation → Dr. 2, then a tie (2 vs 2) goes
    # to the lower id, then Dr. 2 again (3 vs 2)
    assert issue_many(session, desk, clinic_a, dept, 3) == [slow.id, quick.id, slow.id]


def test_shortest_wait_picks_the_doctor_free_soonest(session, clinic_a, desk, clock):
    dept = department(session, clinic_a, "shortest_wait")
    quick, slow = busy_but_quick_vs_idle_but_slow(session, clinic_a, desk, clock, dept)
    # Dr. 1: 20 min, Dr. 2: 25 → Dr. 1; then Dr. 1: 30 vs 25 → Dr. 2; then 30 vs 55 → Dr. 1
    assert issue_many(session, desk, clinic_a, dept, 3) == [quick.id, slow.id, quick.id]


def test_shortest_wait_counts_an_announced_delay(session, clinic_a, desk, clock):
    dept = department(session, clinic_a, "shortest_wait")
    quick, slow = busy_but_quick_vs_idle_but_slow(session, clinic_a, desk, clock, dept)
    announce_delay(session, desk, doctor_id=quick.id, minutes=30)  # 20 + 30 = 50 > 25
    assert issue_many(session, desk, clinic_a, dept, 1) == [slow.id]


def test_shortest_wait_prefers_an_idle_doctor_to_one_mid_consultation(
    session, clinic_a, desk, clock
):
    dept = department(session, clinic_a, "shortest_wait")
    busy, idle = doctors(session, clinic_a, dept, 2)
    patients = register_patients(session, clinic_a, 4, "Named")
    for p in patients[:3]:
        named(session, desk, dept, busy, p)
    start_consultation(session, desk, token_id=call_next(session, desk, doctor_id=busy.id).id)
    assert issue_many(session, desk, clinic_a, dept, 1) == [idle.id]


# --- performance weighted ---------------------------------------------------------------------


def test_performance_weighted_shares_follow_the_weights(session, clinic_a, desk):
    dept = department(session, clinic_a, "performance_weighted")
    strong, plain = doctors(session, clinic_a, dept, 2)
    strong.performance_weight, plain.performance_weight = 2.0, 1.0  # an admin setting
    session.flush()
    got = issue_many(session, desk, clinic_a, dept, 30)
    # rule: the doctor with the smallest (tokens today + 1) / weight, ties to the lower id:
    # (1/2 vs 1/1) strong, (2/2 vs 1/1) tie → strong, (3/2 vs 1/1) plain, and so on
    assert got == [strong.id, strong.id, plain.id] * 10
    assert (got.count(strong.id), got.count(plain.id)) == (20, 10)


def test_performance_weighted_counts_tokens_already_on_hand(session, clinic_a, desk):
    dept = department(session, clinic_a, "performance_weighted")
    first, second = doctors(session, clinic_a, dept, 2)
    for p in register_patients(session, clinic_a, 3, "Named"):
        named(session, desk, dept, first, p)
    # equal weights: the second doctor catches up to three before the first gets another
    assert issue_many(session, desk, clinic_a, dept, 4) == [second.id] * 3 + [first.id]


# --- pool -------------------------------------------------------------------------------------


def test_pool_token_has_no_doctor_and_any_doctor_of_the_department_calls_it(
    session, clinic_a, desk
):
    dept = department(session, clinic_a, "pool")
    d1, d2 = doctors(session, clinic_a, dept, 2)
    (p,) = register_patients(session, clinic_a, 1)
    token = issue_token(session, desk, patient_id=p, department_id=dept.id, kind="walk_in")
    assert assigned(session, [token.id]) == [None]
    called = call_next(session, desk, doctor_id=d2.id)
    assert (called.id, called.doctor_id) == (token.id, d2.id)
    assert assigned(session, [token.id]) == [d2.id]
    assert call_next(session, desk, doctor_id=d1.id) is None


def test_pool_token_is_not_called_by_a_doctor_of_another_department(session, clinic_a, desk):
    dept = department(session, clinic_a, "pool")
    other = department(session, clinic_a, "pool", code="ENT")
    (mine,) = doctors(session, clinic_a, dept, 1)
    (stranger,) = doctors(session, clinic_a, other, 1)
    issue_many(session, desk, clinic_a, dept, 1)
    assert call_next(session, desk, doctor_id=stranger.id) is None
    assert call_next(session, desk, doctor_id=mine.id) is not None


# --- who is on duty ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "strategy", ["round_robin", "least_busy", "shortest_wait", "performance_weighted"]
)
def test_doctor_on_leave_or_not_working_that_weekday_gets_no_tokens(
    session, clinic_a, desk, strategy
):
    dept = department(session, clinic_a, strategy)
    on_leave = add_doctor_in(session, clinic_a, dept, name="Dr. 1")
    on_duty = add_doctor_in(session, clinic_a, dept, name="Dr. 2")
    tue_to_fri = add_doctor_in(session, clinic_a, dept, name="Dr. 3", weekdays=(1, 2, 3, 4))
    add_leave(session, clinic_a.admin, doctor_id=on_leave.id, start_date=MONDAY, end_date=MONDAY)
    assert tue_to_fri.id > on_duty.id > on_leave.id  # ties would favour the absent doctors
    assert issue_many(session, desk, clinic_a, dept, 4) == [on_duty.id] * 4


def test_nobody_on_duty_leaves_the_token_in_the_pool(session, clinic_a, desk):
    dept = department(session, clinic_a, "round_robin")
    (weekend_doctor,) = doctors(session, clinic_a, dept, 1, weekdays=(5, 6))
    assert issue_many(session, desk, clinic_a, dept, 1) == [None]
    # the doctor can still call it if they turn up (the caller is always part of the line)
    assert call_next(session, desk, doctor_id=weekend_doctor.id) is not None


def test_patient_with_an_allocated_token_gets_it_back_when_issued_to_that_doctor(
    session, clinic_a, desk
):
    dept = department(session, clinic_a, "round_robin")
    (only,) = doctors(session, clinic_a, dept, 1)
    (p,) = register_patients(session, clinic_a, 1)
    first = issue_token(session, desk, patient_id=p, department_id=dept.id, kind="walk_in")
    again = named(session, desk, dept, only, p)
    assert (again.id, again.created) == (first.id, False)  # one active token per doctor
