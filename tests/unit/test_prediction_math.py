"""The prediction arithmetic without a database: logistic fit, explanations, metrics, peaks."""

from __future__ import annotations

import math

import numpy as np
import pytest

from core.analytics.no_show import (
    NoShowExample,
    NoShowFeatures,
    accuracy,
    build_no_show_model,
    evaluate_examples,
    fit_logistic,
    sigmoid,
)
from core.analytics.peaks import forecast_hours
from core.errors import ValidationFailed

TRUE_INTERCEPT, TRUE_PAST, TRUE_LEAD = -2.5, 0.6, 0.5


def features(lead=1.0, past=0, no_shows=0, weekday=0, hour=10, visit_type="new"):
    return NoShowFeatures(lead, past, no_shows, weekday, hour, visit_type)


def generated(n, seed, *, signal=True):
    """Appointments whose no-show odds rise with past no-shows and lead time (a known truth)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        lead = float(rng.choice([0.1, 1, 2, 5, 10, 21, 30]))
        past = int(rng.integers(0, 8))
        no_shows = min(int(rng.binomial(past, 0.25)), 5)
        f = features(lead, past, no_shows, int(rng.integers(0, 6)), int(rng.integers(9, 18)))
        logit = TRUE_INTERCEPT + TRUE_PAST * no_shows + TRUE_LEAD * math.log1p(lead)
        p = sigmoid(logit if signal else -2.0)
        out.append(NoShowExample(f, bool(rng.random() < p)))
    return out


def test_logistic_fit_recovers_known_coefficients():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(6000, 2))
    y = (rng.random(6000) < 1 / (1 + np.exp(-(-2.0 + 1.0 * x[:, 0])))).astype(float)
    intercept, effect, noise = fit_logistic(x, y, l2=1.0)
    assert effect == pytest.approx(1.0, abs=0.12)
    assert noise == pytest.approx(0.0, abs=0.08)
    assert intercept == pytest.approx(-2.0, abs=0.12)


def test_feature_that_raises_no_show_odds_gets_a_positive_contribution():
    model = build_no_show_model(generated(5000, seed=11))
    assert model.fitted
    coefs = dict(zip(model.columns, model.coefs, strict=True))
    assert coefs[("past_no_shows", "count")] > 0.3  # standardised: per sd of the count
    assert coefs[("lead_time", "log_days")] > 0.3
    risky = model.score(features(lead=21, past=4, no_shows=3))
    safe = model.score(features(lead=0.1, past=4, no_shows=0))
    assert risky.probability > 2 * safe.probability
    assert risky.contributions["past_no_shows"] > 0 > safe.contributions["past_no_shows"]


def test_predicted_probabilities_are_calibrated_on_generated_data():
    examples = generated(8000, seed=3)
    model = build_no_show_model(examples)
    p = np.array([model.score(e.features).probability for e in examples])
    y = np.array([e.no_show for e in examples], dtype=float)
    assert p.mean() == pytest.approx(y.mean(), abs=0.002)  # the unpenalised intercept
    for chunk in np.array_split(np.argsort(p), 5):  # quintiles of predicted risk
        assert p[chunk].mean() == pytest.approx(y[chunk].mean(), abs=0.03)


def test_contributions_plus_baseline_are_the_logit_of_the_probability():
    model = build_no_show_model(generated(3000, seed=5))
    for f in (features(), features(30, 6, 5, 4, 17, "follow_up"), features(0, 0, 0, 6, 8)):
        score = model.score(f)
        assert set(score.contributions) == {
            "lead_time",
            "past_no_shows",
            "weekday",
            "hour",
            "visit_type",
        }
        logit = score.baseline + sum(score.contributions.values())
        assert logit == pytest.approx(math.log(score.probability / (1 - score.probability)))
        assert score.log_odds == pytest.approx(logit)


def test_explanation_names_the_features_in_the_receptionists_words():
    model = build_no_show_model(generated(3000, seed=5))
    score = model.score(features(lead=21, past=3, no_shows=2, weekday=0, hour=17))
    text = " | ".join(score.reasons)
    assert "2 past no-shows in 3 visits +" in text
    assert "booked 21 days ahead +" in text
    assert "at 17:00" in text and "on a Monday" in text
    ranked = [abs(float(r.rsplit(" ", 1)[1])) for r in score.reasons]
    assert ranked == sorted(ranked, reverse=True)


def test_singular_labels():
    labels = features(lead=1.2, past=1, no_shows=1, visit_type="follow_up").labels()
    assert labels["lead_time"] == "booked 1 day ahead"
    assert labels["past_no_shows"] == "1 past no-show in 1 visit"
    assert features(past=4).labels()["past_no_shows"] == "no no-shows in 4 earlier visits"
    assert features().labels()["past_no_shows"] == "no earlier visits"
    assert labels["visit_type"] == "follow-up visit"
    assert features(lead=0.3).labels()["lead_time"] == "booked the same day"


def test_a_category_unseen_in_training_counts_as_average():
    model = build_no_show_model(generated(2000, seed=9))  # hours 9..17, weekdays 0..5
    score = model.score(features(hour=22, weekday=6, visit_type="tele"))
    assert score.contributions["hour"] == 0
    assert score.contributions["weekday"] == 0
    assert score.contributions["visit_type"] == 0


def test_no_history_falls_back_to_the_prior():
    model = build_no_show_model([])
    score = model.score(features())
    assert not model.fitted
    assert score.probability == pytest.approx(0.10)
    assert score.contributions == {}
    assert score.reasons == (model.note,)
    assert "No finished appointments" in model.note


@pytest.mark.parametrize("no_show", [False, True])
def test_one_outcome_only_falls_back_to_the_smoothed_base_rate(no_show):
    examples = [NoShowExample(features(lead=i % 9), no_show) for i in range(200)]
    model = build_no_show_model(examples)
    score = model.score(features(lead=30, past=5, no_shows=5))
    assert not model.fitted
    assert 0 < score.probability < 1
    assert score.probability == pytest.approx(model.base_rate)
    assert score.probability == pytest.approx(1.0 if no_show else 0.0, abs=0.01)
    assert "too few to learn from" in model.note


def test_too_few_rows_fall_back_even_with_both_outcomes():
    examples = [NoShowExample(features(lead=i), i % 3 == 0) for i in range(12)]
    model = build_no_show_model(examples)
    assert not model.fitted
    assert model.base_rate == pytest.approx((4 + 0.2) / (12 + 2))
    assert model.note.startswith("Only 12 finished appointments with 4 no-shows")


def test_fit_survives_perfectly_separated_data():
    examples = [
        NoShowExample(features(lead=30 if i % 5 == 0 else 0.1), i % 5 == 0) for i in range(100)
    ]
    model = build_no_show_model(examples)
    assert model.fitted
    assert all(math.isfinite(c) for c in model.coefs)
    assert model.score(features(lead=30)).probability > 0.8
    assert model.score(features(lead=0.1)).probability < 0.2


def test_metrics_by_hand():
    got = accuracy([0.1, 0.4, 0.35, 0.8], [False, False, True, True])
    assert got is not None
    assert got.brier == pytest.approx((0.01 + 0.16 + 0.4225 + 0.04) / 4)
    expected_loss = -(math.log(0.9) + math.log(0.6) + math.log(0.35) + math.log(0.8)) / 4
    assert got.log_loss == pytest.approx(expected_loss)
    assert got.auc == pytest.approx(0.75)


def test_auc_counts_ties_half_and_is_undefined_for_one_outcome():
    constant = accuracy([0.2] * 4, [False, True, False, True])
    assert constant is not None and constant.auc == pytest.approx(0.5)
    one_outcome = accuracy([0.2, 0.3], [False, False])
    assert one_outcome is not None and one_outcome.auc is None
    assert accuracy([], []) is None


def test_model_beats_the_base_rate_on_held_out_generated_data():
    result = evaluate_examples(generated(4000, seed=21), generated(1500, seed=22))
    assert result.model is not None and result.base_rate is not None
    assert result.model.brier < result.base_rate.brier
    assert result.model.log_loss < result.base_rate.log_loss
    assert result.model.auc is not None and result.model.auc > 0.65
    assert result.base_rate.auc == pytest.approx(0.5)
    assert (result.trained_on, result.held_out) == (4000, 1500)


def test_without_signal_the_model_shrinks_to_the_base_rate():
    train = generated(2000, seed=31, signal=False)
    result = evaluate_examples(train, generated(1500, seed=32, signal=False))
    assert result.model is not None and result.base_rate is not None
    assert result.model.brier <= result.base_rate.brier + 0.001
    model = build_no_show_model(train)
    assert max(abs(c) for c in model.coefs) < 0.05  # noise is not explained away
    assert model.l2 is not None and model.l2 >= 1000
    unpenalised = build_no_show_model(train, l2=0.01)
    assert max(abs(c) for c in unpenalised.coefs) > 0.05


def test_cross_validation_keeps_the_penalty_light_when_there_is_signal():
    model = build_no_show_model(generated(4000, seed=41))
    assert model.l2 is not None and model.l2 <= 30
    assert f"L2 penalty {model.l2:g}" in model.note


def test_sigmoid_does_not_overflow():
    assert sigmoid(1000) == 1.0
    assert sigmoid(-1000) == pytest.approx(0.0)
    assert sigmoid(0) == 0.5
    assert sigmoid(-40) == pytest.approx(math.exp(-40), rel=1e-9)


def test_a_penalty_must_be_positive():
    with pytest.raises(ValidationFailed):
        build_no_show_model(generated(200, seed=1), l2=0)


def test_peak_forecast_weighs_recent_weeks_more():
    last_week, two_weeks_ago = [0] * 24, [0] * 24
    last_week[10], last_week[11] = 5, 2
    two_weeks_ago[10], two_weeks_ago[11] = 1, 5
    hours, peak = forecast_hours({1: last_week, 2: two_weeks_ago, 3: [0] * 24}, weeks=3)
    assert hours[10].expected == pytest.approx((3 * 5 + 2 * 1) / 5)
    assert hours[11].expected == pytest.approx((3 * 2 + 2 * 5) / 5)
    assert (hours[10].low, hours[10].high, hours[11].low, hours[11].high) == (1, 5, 2, 5)
    assert peak == 10  # an unweighted mean would say 11 (3.0 vs 3.5)
    assert [h.hour for h in hours] == list(range(24))


def test_peak_forecast_without_tokens_has_no_peak_and_ties_go_to_the_earlier_hour():
    hours, peak = forecast_hours({}, weeks=8)
    assert peak is None and all(h.expected == 0 for h in hours)
    tied = [0] * 24
    tied[9] = tied[16] = 4
    assert forecast_hours({1: tied, 9: [7] * 24}, weeks=8)[1] == 9  # week 9 is out of range
