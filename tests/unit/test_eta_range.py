"""The 80 % ETA range: closed form on hand-computed cases, and as the projection gives it."""

from __future__ import annotations

import datetime as dt

from core.queue.eta_projection import Waiting, eta_range, project
from core.queue.line import DoctorState, consultation_spread
from core.queue.scoring import Candidate, QueueRules

NOW = dt.datetime(2026, 12, 7, 4, 0, tzinfo=dt.UTC)
MIN = dt.timedelta(minutes=1)


def test_range_is_minutes_plus_minus_z80_sd_root_n_rounded_outwards():
    # 4 consultations of sd 10: sd of the sum 20, 1.2816 × 20 = 25.632
    low, high = eta_range(NOW, 60, 4, 10)
    assert (low, high) == (NOW + 34 * MIN, NOW + 86 * MIN)  # 34.368 down, 85.632 up


def test_range_never_starts_before_now_and_is_a_point_with_nothing_ahead():
    assert eta_range(NOW, 5, 1, 30) == (NOW, NOW + 44 * MIN)  # 5 + 38.45 = 43.45 → 44
    assert eta_range(NOW, 0, 0, 30) == (NOW, NOW)


def test_spread_is_the_sample_sd_or_half_the_mean_with_little_history():
    assert consultation_spread([10, 20, 30, 40], 15) == (500 / 3) ** 0.5  # sample sd 12.91
    assert consultation_spread([10, 20], 15) == 7.5  # too few: 0.5 × mean 15
    assert consultation_spread([], 30) == 15.0  # none: 0.5 × the slot


def test_projection_carries_the_range_of_each_place():
    # an idle doctor, 30-min average, sd 15; three walk-ins
    doctor = DoctorState(
        doctor_id=1,
        department_id=9,
        room=None,
        slot_minutes=30,
        performance_weight=1.0,
        session_status="active",
        paused_until=None,
        delay_until=None,
        avg_minutes=30.0,
        current_started_at=None,
        called=0,
        waiting=3,
        served_today=0,
        recent_kinds=(),
        sd_minutes=15.0,
    )
    waiting = [
        Waiting(Candidate(i, "walk_in", NOW - dt.timedelta(minutes=10 - i)), 1, 9)
        for i in (1, 2, 3)
    ]
    got = project(waiting, [doctor], NOW, QueueRules())
    spans = [((got[i].low - NOW) / MIN, (got[i].high - NOW) / MIN) for i in (1, 2, 3)]
    # 0 ahead: a point; 1 ahead: 30 ∓ 19.224; 2 ahead: 60 ∓ 27.187 (19.224 × √2)
    assert spans == [(0, 0), (10, 50), (32, 88)]
    assert [got[i].eta for i in (1, 2, 3)] == [NOW, NOW + 30 * MIN, NOW + 60 * MIN]
