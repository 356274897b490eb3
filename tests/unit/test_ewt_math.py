"""The wait-time arithmetic: SPEC §5 example 2 and its edge cases."""

from __future__ import annotations

import datetime as dt

from core.queue.wait_estimate import estimate_wait

NOW = dt.datetime(2026, 12, 7, 4, 45, tzinfo=dt.UTC)  # 10:15 in Kolkata


def minutes_ago(n: float) -> dt.datetime:
    return NOW - dt.timedelta(minutes=n)


def test_spec_example_two_is_105_minutes_eta_noon():
    est = estimate_wait(now=NOW, avg_minutes=30, current_started_at=minutes_ago(15), ahead=3)
    assert est.minutes == 105
    assert est.eta == dt.datetime(2026, 12, 7, 6, 30, tzinfo=dt.UTC)  # 12:00 in Kolkata
    assert est.eta.astimezone(dt.timezone(dt.timedelta(hours=5, minutes=30))).time() == dt.time(12)
    assert (est.remaining_current, est.queue_minutes, est.pause_minutes) == (15, 90, 0)
    assert est.explanation == "current consultation 15 min left + 3 ahead × 30 min = 105 min"


def test_no_consultation_in_progress_counts_only_the_queue():
    est = estimate_wait(now=NOW, avg_minutes=20, current_started_at=None, ahead=2)
    assert (est.minutes, est.remaining_current) == (40, 0)
    assert est.explanation.startswith("no consultation in progress")


def test_overrunning_consultation_counts_zero_minutes_left():
    est = estimate_wait(now=NOW, avg_minutes=30, current_started_at=minutes_ago(45), ahead=1)
    assert (est.minutes, est.remaining_current) == (30, 0)
    assert "overrunning" in est.explanation


def test_pool_of_two_doctors_halves_the_queue_part():
    est = estimate_wait(
        now=NOW, avg_minutes=30, current_started_at=minutes_ago(15), ahead=3, active_doctors=2
    )
    assert (est.queue_minutes, est.minutes) == (45, 60)
    assert "÷ 2 doctors" in est.explanation


def test_remaining_pause_and_delay_add_time():
    est = estimate_wait(
        now=NOW,
        avg_minutes=30,
        current_started_at=None,
        ahead=1,
        paused_until=NOW + dt.timedelta(minutes=10),
        delay_minutes=5,
    )
    assert (est.pause_minutes, est.delay_minutes, est.minutes) == (10, 5, 45)
    assert "pause 10 min left" in est.explanation
    assert "announced delay 5 min" in est.explanation


def test_finished_pause_adds_nothing():
    est = estimate_wait(
        now=NOW, avg_minutes=30, current_started_at=None, ahead=1, paused_until=minutes_ago(1)
    )
    assert (est.pause_minutes, est.minutes) == (0, 30)


def test_fractional_wait_is_rounded_up_and_eta_matches():
    est = estimate_wait(now=NOW, avg_minutes=12.5, current_started_at=minutes_ago(2.25), ahead=1)
    assert est.minutes == 23  # 10.25 + 12.5 = 22.75
    assert est.eta == NOW + dt.timedelta(minutes=23)
    assert "10.2 min left" in est.explanation
