"""Calling order through the real commands: SPEC §5 example 6, emergencies, the cap, bookings."""

from __future__ import annotations

import datetime as dt
import math
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from core.clock import FrozenClock
from core.queue.calling import call_next
from core.queue.issuing import issue_token
from core.queue.lifecycle import finish_token, start_consultation
from core.queue.scoring import CAPPED_KINDS
from core.queue.wait_estimate import doctor_queue_etas
from core.scheduling.booking import book_appointment
from db.models import QueueToken
from tests.support import add_doctor, at_desk, local, register_patients, set_queue_settings

MONDAY = dt.date(2026, 12, 7)


def issue(session, actor, clinic, patient_id, doctor, kind="walk_in", **kw):
    return issue_token(
        session,
        actor,
        patient_id=patient_id,
        department_id=clinic.department.id,
        kind=kind,
        doctor_id=doctor.id,
        **kw,
    )


def consult(session, actor, clock, doctor, minutes):
    """Call the next token, see the patient for ``minutes`` and finish; return the token."""
    called = call_next(session, actor, doctor_id=doctor.id)
    assert called is not None
    start_consultation(session, actor, token_id=called.id)
    clock.advance(minutes=minutes)
    finish_token(session, actor, token_id=called.id)
    return called


def call_all(session, actor, clock, doctor, *, every=1):
    """Call until nobody waits, ``every`` minutes apart; return the called tokens in order."""
    order = []
    while (called := call_next(session, actor, doctor_id=doctor.id)) is not None:
        order.append(called)
        clock.advance(minutes=every)
    return order


def book(session, clinic, doctor, patient_id, slot):
    """Book ``slot`` at 08:00 that morning (bookings must be made before the slot)."""
    clock = FrozenClock(local(clinic, MONDAY, 8))
    return book_appointment(
        session,
        at_desk(clinic, clock),
        doctor_id=doctor.id,
        patient_id=patient_id,
        slot_start=slot,
    )


def stored_eta(session, token_id):
    session.expire_all()
    return session.scalar(select(QueueToken.eta_at).where(QueueToken.id == token_id))


# --- SPEC §5 example 6 ------------------------------------------------------------------------


def test_spec_example_six_five_patients_for_one_doctor_order_and_etas(session, clinic_a):
    doctor = add_doctor(session, clinic_a)  # 30-min slots: the fallback, overridden below
    clock = FrozenClock(local(clinic_a, MONDAY, 7, 40))
    actor = at_desk(clinic_a, clock)
    history = register_patients(session, clinic_a, 6, "Early")
    x, a, f, b, v, w = register_patients(session, clinic_a, 6)

    # 07:40-08:45 (Kolkata): six consultations of 5, 10, 14, 12, 11 and 13 minutes. The rolling
    # window is the last five, so the 5 falls out: (10 + 14 + 12 + 11 + 13) / 5 = 12 min.
    for p in history:
        issue(session, actor, clinic_a, p, doctor)
    for minutes in (5, 10, 14, 12, 11, 13):
        consult(session, actor, clock, doctor, minutes)

    appointment = book(session, clinic_a, doctor, b, local(clinic_a, MONDAY, 9, 30))
    arrivals = [
        ("08:45", x, "walk_in", {}),
        ("09:00", a, "walk_in", {}),
        ("09:05", f, "follow_up", {}),
        ("09:10", b, "booked", {"appointment_id": appointment.id}),  # slot 09:30
        ("09:20", v, "vip", {}),
        ("09:25", w, "walk_in", {}),
    ]
    tokens = {}
    for hhmm, patient, kind, extra in arrivals:
        clock.at = local(clinic_a, MONDAY, *map(int, hhmm.split(":")))
        tokens[patient] = issue(session, actor, clinic_a, patient, doctor, kind, **extra)
    X, A, F, B, V, W = (tokens[p] for p in (x, a, f, b, v, w))

    # 09:30 X (walk-in, 45 min waited) beats V (30 + 10 = 40) and goes in; the five wait.
    clock.at = local(clinic_a, MONDAY, 9, 30)
    assert call_next(session, actor, doctor_id=doctor.id).id == X.id
    start_consultation(session, actor, token_id=X.id)

    # 09:40. score = weight + 1 × minutes waited since max(check-in, slot):
    #   V vip        30 + (09:40 - 09:20) = 30 + 20 = 50
    #   A walk-in     0 + (09:40 - 09:00) =  0 + 40 = 40
    #   F follow-up   5 + (09:40 - 09:05) =  5 + 35 = 40   (tie with A: A checked in first)
    #   B booked     15 + (09:40 - 09:30) = 15 + 10 = 25   (waits from its slot, not 09:10)
    #   W walk-in     0 + (09:40 - 09:25) =  0 + 15 = 15
    # Cap: the last two calls today (X and the 08:32 patient) were walk-ins: V may go first.
    # ETA: X started 09:30 with a 12-min average → 2 min left, then 12 min per patient ahead.
    clock.at = local(clinic_a, MONDAY, 9, 40)
    etas = doctor_queue_etas(session, actor, doctor_id=doctor.id)
    expected = [(V, 2, "09:42"), (A, 14, "09:54"), (F, 26, "10:06"), (B, 38, "10:18")]
    expected.append((W, 50, "10:30"))
    assert [e.token_id for e in etas] == [t.id for t, _, _ in expected]
    assert [e.code for e in etas] == ["GEN-011", "GEN-008", "GEN-009", "GEN-010", "GEN-012"]
    assert [e.position for e in etas] == [1, 2, 3, 4, 5]
    assert [e.minutes for e in etas] == [m for _, m, _ in expected]
    zone = ZoneInfo(clinic_a.tenant.timezone)
    assert [e.eta.astimezone(zone).strftime("%H:%M") for e in etas] == [
        hhmm for _, _, hhmm in expected
    ]
    assert etas[0].explanation == "current consultation 2 min left + 0 ahead × 12 min = 2 min"
    assert etas[4].explanation == "current consultation 2 min left + 4 ahead × 12 min = 50 min"
    # the ETAs stored on the tokens by the last queue event (09:30) are the same instants
    assert [stored_eta(session, e.token_id) for e in etas] == [e.eta for e in etas]

    # The doctor now works through the queue: the real calls follow the predicted order.
    finish_token(session, actor, token_id=X.id)
    called = []
    while (token := call_next(session, actor, doctor_id=doctor.id)) is not None:
        called.append(token.id)
        start_consultation(session, actor, token_id=token.id)
        clock.advance(minutes=12)
        finish_token(session, actor, token_id=token.id)
    assert called == [e.token_id for e in etas]


# --- emergencies ------------------------------------------------------------------------------


def test_emergencies_go_first_back_to_back_even_right_after_a_capped_call(session, clinic_a):
    doctor = add_doctor(session, clinic_a)
    clock = FrozenClock(local(clinic_a, MONDAY, 8))
    actor = at_desk(clinic_a, clock)
    old, vip, e1, e2 = register_patients(session, clinic_a, 4)
    old_walk_in = issue(session, actor, clinic_a, old, doctor)
    first_vip = issue(session, actor, clinic_a, vip, doctor, "vip")
    clock.at = local(clinic_a, MONDAY, 10)
    assert call_next(session, actor, doctor_id=doctor.id).id == first_vip.id  # 150 > 120
    clock.advance(minutes=5)
    first = issue(session, actor, clinic_a, e1, doctor, "emergency")
    clock.advance(minutes=1)
    second = issue(session, actor, clinic_a, e2, doctor, "emergency")
    clock.advance(minutes=4)
    order = call_all(session, actor, clock, doctor)
    # the walk-in has waited 130 min; the emergencies 5 and 4, and a VIP call is in the window
    assert [t.id for t in order] == [first.id, second.id, old_walk_in.id]


# --- the priority cap -------------------------------------------------------------------------

FLOOD = ("vip", "priority", "lab_return", "vip", "priority", "lab_return")


def assert_cap_held(kinds, cap_every):
    """At most one capped kind in any ``cap_every`` calls while a non-capped token waited."""
    last_free = max(i for i, k in enumerate(kinds) if k not in CAPPED_KINDS)
    for end in range(last_free + 1):
        window = kinds[max(0, end - cap_every + 1) : end + 1]
        assert sum(k in CAPPED_KINDS for k in window) <= 1, (end, kinds)


def flood_and_call(session, clinic, doctor):
    """Six priority tokens and three walk-ins, all at 09:00; calls a minute apart from 09:30."""
    clock = FrozenClock(local(clinic, MONDAY, 9))
    actor = at_desk(clinic, clock)
    kinds = (*FLOOD, "walk_in", "walk_in", "walk_in")
    for patient, kind in zip(register_patients(session, clinic, len(kinds)), kinds, strict=True):
        issue(session, actor, clinic, patient, doctor, kind)
    clock.at = local(clinic, MONDAY, 9, 30)
    return [t.kind for t in call_all(session, actor, clock, doctor)]


C, W = "capped", "free"


@pytest.mark.parametrize(
    ("tenant", "department", "cap_every", "pattern"),
    [
        # cap 3: after a capped call the next two must be free while any free token waits;
        # once only capped tokens are left they are called back to back (no idle doctor)
        (None, None, 3, [C, W, W, C, W, C, C, C, C]),
        ({"cap_every": 2}, None, 2, [C, W, C, W, C, W, C, C, C]),
        ({"cap_every": 4}, None, 4, [C, W, W, W, C, C, C, C, C]),
        ({"cap_every": 4}, {"cap_every": 2}, 2, [C, W, C, W, C, W, C, C, C]),
        (None, {"cap_every": 1}, 1, [C, C, C, C, C, C, W, W, W]),  # 1 = no cap at all
    ],
)
def test_priority_cap_limits_capped_kinds_per_window_of_calls(
    session, clinic_a, tenant, department, cap_every, pattern
):
    set_queue_settings(session, clinic_a, tenant=tenant, department=department)
    doctor = add_doctor(session, clinic_a)
    kinds = flood_and_call(session, clinic_a, doctor)
    assert len(kinds) == 9
    assert [C if k in CAPPED_KINDS else W for k in kinds] == pattern
    assert_cap_held(kinds, cap_every)


# --- starvation -------------------------------------------------------------------------------


def test_walk_ins_are_called_within_the_caps_bound_while_vips_keep_arriving(session, clinic_a):
    doctor = add_doctor(session, clinic_a)
    clock = FrozenClock(local(clinic_a, MONDAY, 8, 58))
    actor = at_desk(clinic_a, clock)
    walk_ins = []
    for patient in register_patients(session, clinic_a, 3, "Walk-in"):
        walk_ins.append(issue(session, actor, clinic_a, patient, doctor).id)
        clock.advance(minutes=1)  # 08:58, 08:59, 09:00
    vips = iter(register_patients(session, clinic_a, 40, "Vip"))
    called = []
    while walk_ins[-1] not in called:
        for _ in range(5):  # a new VIP every minute, a call every five
            issue(session, actor, clinic_a, next(vips), doctor, "vip")
            clock.advance(minutes=1)
        called.append(call_next(session, actor, doctor_id=doctor.id).id)
    # VIPs always outscore these walk-ins, so the cap alone decides: one VIP, then
    # cap_every - 1 walk-ins. n walk-ins are done within n + ceil(n / (cap_every - 1)) calls.
    n, cap_every = len(walk_ins), 3
    assert len(called) == n + math.ceil(n / (cap_every - 1)) == 5
    assert [c in walk_ins for c in called] == [False, True, True, False, True]


def test_wait_penalty_alone_lifts_an_old_walk_in_over_a_stream_of_vips(session, clinic_a):
    # no cap, 3 points a minute: a walk-in is ahead of every VIP who arrived 30 / 3 = 10 or more
    # minutes after it, so only the nine VIPs of 09:01..09:09 can be called before it
    set_queue_settings(session, clinic_a, tenant={"cap_every": 1, "wait_penalty_per_minute": 3})
    doctor = add_doctor(session, clinic_a)
    clock = FrozenClock(local(clinic_a, MONDAY, 9))
    actor = at_desk(clinic_a, clock)
    (walker,) = register_patients(session, clinic_a, 1, "Walk-in")
    walk_in = issue(session, actor, clinic_a, walker, doctor).id
    vips = iter(register_patients(session, clinic_a, 60, "Vip"))
    called = []
    while walk_in not in called:
        for _ in range(5):
            clock.advance(minutes=1)
            issue(session, actor, clinic_a, next(vips), doctor, "vip")
        called.append(call_next(session, actor, doctor_id=doctor.id).id)
    lead = 30 / 3
    assert len(called) == lead  # nine VIPs, then the walk-in (tie at 10 min: it came first)


# --- the booked patient's virtual place -------------------------------------------------------


def booked_scene(session, clinic, walk_in_times, booked_check_in):
    """A 10:00 booking checked in at ``booked_check_in`` plus walk-ins; returns the tokens."""
    doctor = add_doctor(session, clinic)
    booked_patient, *walkers = register_patients(session, clinic, 1 + len(walk_in_times))
    appointment = book(session, clinic, doctor, booked_patient, local(clinic, MONDAY, 10))
    clock = FrozenClock(local(clinic, MONDAY, 9))
    actor = at_desk(clinic, clock)
    arrivals = sorted(
        [(booked_check_in, booked_patient), *zip(walk_in_times, walkers, strict=True)]
    )
    tokens = {}
    for hhmm, patient in arrivals:
        clock.at = local(clinic, MONDAY, *hhmm)
        if patient == booked_patient:
            extra = {"appointment_id": appointment.id}
            tokens["booked"] = issue(session, actor, clinic, patient, doctor, "booked", **extra)
        else:
            tokens[hhmm] = issue(session, actor, clinic, patient, doctor)
    return doctor, clock, actor, tokens


def test_early_booked_patient_is_behind_walk_ins_who_came_well_before_the_slot(session, clinic_a):
    # booked 10:00, checked in 09:20 (40 min early). Calls at 09:55, before the slot:
    #   walk-in 09:30: 25;  booked: 15 + (09:55 - 10:00) = 10;  walk-in 09:50: 5
    # (counting the wait from the 09:20 check-in would give the booked patient 50: first)
    doctor, clock, actor, t = booked_scene(session, clinic_a, [(9, 30), (9, 50)], (9, 20))
    clock.at = local(clinic_a, MONDAY, 9, 55)
    order = [c.id for c in call_all(session, actor, clock, doctor)]
    assert order == [t[(9, 30)].id, t["booked"].id, t[(9, 50)].id]


def test_at_slot_time_booked_patient_is_ahead_of_walk_ins_after_slot_minus_weight(
    session, clinic_a
):
    # booked 10:00 (weight 15) checked in 09:20; walk-ins at 09:44 and 09:46 (slot - 15 = 09:45).
    # At 10:10: walk-in 09:44: 26;  booked: 15 + 10 = 25;  walk-in 09:46: 24
    doctor, clock, actor, t = booked_scene(session, clinic_a, [(9, 44), (9, 46)], (9, 20))
    clock.at = local(clinic_a, MONDAY, 10, 10)
    order = [c.id for c in call_all(session, actor, clock, doctor)]
    assert order == [t[(9, 44)].id, t["booked"].id, t[(9, 46)].id]


def test_late_booked_patient_gets_no_credit_for_lateness(session, clinic_a):
    # booked 10:00 but checked in 10:30; walk-in since 10:10. At 10:40:
    #   walk-in: 30;  booked: 15 + (10:40 - 10:30) = 25  (from the slot it would be 15 + 40 = 55)
    doctor, clock, actor, t = booked_scene(session, clinic_a, [(10, 10)], (10, 30))
    clock.at = local(clinic_a, MONDAY, 10, 40)
    order = [c.id for c in call_all(session, actor, clock, doctor)]
    assert order == [t[(10, 10)].id, t["booked"].id]
