"""The BI cache's daily values: computed once a day per key, an earlier day's dropped."""

from __future__ import annotations

import datetime as dt

from core.analytics.bi import KpiCache

MONDAY = dt.date(2026, 3, 2)


def test_daily_value_is_computed_once_per_clinic_and_day():
    cache, calls = KpiCache(), []

    def fit(name):
        return lambda: calls.append(name) or name

    assert cache.daily((1, "no_show_model", MONDAY), fit("a")) == "a"
    assert cache.daily((1, "no_show_model", MONDAY), fit("again")) == "a"
    assert cache.daily((2, "no_show_model", MONDAY), fit("b")) == "b"  # another clinic
    assert calls == ["a", "b"]


def test_next_days_value_replaces_the_earlier_days():
    cache, calls = KpiCache(), []
    tuesday = MONDAY + dt.timedelta(days=1)
    cache.daily((1, "no_show_model", MONDAY), lambda: calls.append("monday") or 1)
    cache.daily((2, "no_show_model", MONDAY), lambda: calls.append("other") or 3)
    assert cache.daily((1, "no_show_model", tuesday), lambda: calls.append("tuesday") or 2) == 2
    # Monday's model of clinic 1 was dropped (asking again refits); clinic 2's is kept.
    assert cache.daily((1, "no_show_model", MONDAY), lambda: calls.append("refit") or 1) == 1
    assert cache.daily((2, "no_show_model", MONDAY), lambda: calls.append("x") or 0) == 3
    assert calls == ["monday", "other", "tuesday", "refit"]
