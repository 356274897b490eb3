"""The 80 % ETA range: closed form on hand-computed cases, and as the projection gives it."""

from __future__ import annotations

import datetime as dt

from core.queue.eta_projection import PRIOR_BAND, ErrorBand, Waiting, eta_range, project
from core.queue.line import DoctorState, consultation_spread
from core.queue.scoring import Candidate, QueueRules

NOW = dt.datetime(2026, 12, 7, 4, 0, tzinfo=dt.UTC)
MIN = dt.timedelta(minutes=1)
NO_MODEL_ERROR = ErrorBand(early=0.0, late=0.0, floor_minutes=0.0)


def test_consultation_term_alone_is_minutes_plus_minus_z80_sd_root_n_rounded_outwards():
    # 4 consultations of sd 10: sd of the sum 20, 1.2816 × 20 = 25.632
    low, high = eta_range(NOW, 60, 4, 10, NO_MODEL_ERROR)
    assert (low, high) == (NOW + 34 * MIN, NOW + 86 * MIN)  # 34.368 down, 85.632 up


def test_model_error_term_adds_in_quadrature_and_leans_late():
    assert (PRIOR_BAND.early, PRIOR_BAND.late, PRIOR_BAND.floor_minutes) == (-0.12, 0.45, 10.0)
    # consult 25.632; model error 0.12 × 60 = 7.2 early, 0.45 × 60 = 27 late
    # low 60 − √(25.632² + 7.2²) = 60 − 26.624 = 33.376 → 33
    # high 60 + √(25.632² + 27²) = 60 + 37.229 = 97.229 → 98
    assert eta_range(NOW, 60, 4, 10) == (NOW + 33 * MIN, NOW + 98 * MIN)
    # the model-error term alone: 40 − 0.25 × 40 = 30, 40 + 0.5 × 40 = 60
    band = ErrorBand(early=-0.25, late=0.5, floor_minutes=10)
    assert eta_range(NOW, 40, 0, 0, band) == (NOW + 30 * MIN, NOW + 60 * MIN)


def test_a_band_of_late_calls_widens_the_range_on_the_late_side_only():
    on_time = ErrorBand(early=-0.1, late=0.1, floor_minutes=10)
    late = ErrorBand(early=-0.1, late=0.6, floor_minutes=10)
    low_a, high_a = eta_range(NOW, 50, 0, 0, on_time)
    low_b, high_b = eta_range(NOW, 50, 0, 0, late)
    assert low_a == low_b == NOW + 45 * MIN  # 50 − 5
    assert (high_a, high_b) == (NOW + 55 * MIN, NOW + 80 * MIN)  # 50 + 5, 50 + 30


def test_range_never_starts_before_now_and_keeps_a_late_margin_for_the_next_patient():
    # 5 + √(38.448² + 4.5²) = 43.71 → 44; 5 − 38.47 < 0 → now
    assert eta_range(NOW, 5, 1, 30) == (NOW, NOW + 44 * MIN)
    # nothing ahead: the floor (10 min) still allows 0.45 × 10 = 4.5 → 5 min late
    assert eta_range(NOW, 0, 0, 30) == (NOW, NOW + 5 * MIN)
    assert eta_range(NOW, 0, 0, 30, NO_MODEL_ERROR) == (NOW, NOW)


def test_range_always_contains_the_point_eta():
    for minutes in (0, 0.4, 3, 17.5, 42, 180):
        for n, sd in ((0, 0), (1, 8), (6, 20)):
            low, high = eta_range(NOW, minutes, n, sd)
            assert NOW <= low <= NOW + minutes * MIN <= high


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
    # consult 19.224 × √n; model error 0.12 / 0.45 × max(minutes, 10), in quadrature
    # 0 ahead: 0 − 1.2, 0 + 4.5; 1 ahead: 30 − 19.558, 30 + 23.491;
    # 2 ahead: 60 − 28.124, 60 + 38.316
    assert spans == [(0, 5), (10, 54), (31, 99)]
    assert [got[i].eta for i in (1, 2, 3)] == [NOW, NOW + 30 * MIN, NOW + 60 * MIN]
