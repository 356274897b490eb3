"""The no-show model without the database: features, fitting, scores and their explanations.

Each appointment's features (lead time, the patient's past no-shows, weekday, local hour, visit
type) are encoded into columns, standardised, and fitted with ``core.analytics.logistic``; the
intercept is then the log-odds of an average appointment and each feature's contribution its
shift from there ("2 past no-shows +0.90"). Too little history, or only one outcome, falls back
to a smoothed base rate and says so. ``core.analytics.no_show`` reads the examples from the
clinic's appointments and re-exports every public name here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from core.analytics.logistic import (
    Accuracy,
    Floats,
    accuracy,
    choose_l2,
    fit_logistic,
    sigmoid,
    smoothed_rate,
)
from core.errors import ValidationFailed

MIN_ROWS, MIN_PER_OUTCOME = 30, 5
PAST_NO_SHOW_CAP = 5
# Count and rate share one group: they explain together ("2 past no-shows in 5 visits").
CONTINUOUS = (("lead_time", "log_days"), ("past_no_shows", "count"), ("past_no_shows", "rate"))
CATEGORICAL = ("weekday", "hour", "visit_type")
Encoded = dict[str, dict[str, float]]  # feature group -> column -> value
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class NoShowFeatures:
    """What is known about an appointment before its service day."""

    lead_days: float
    past_appointments: int
    past_no_shows: int
    weekday: int  # Monday = 0
    hour: int  # local hour of the slot
    visit_type: str

    def encoded(self) -> Encoded:
        """Return each feature's numeric columns (one-hot for the categorical ones)."""
        past = self.past_appointments
        return {
            "lead_time": {"log_days": math.log1p(max(self.lead_days, 0.0))},
            "past_no_shows": {
                "count": float(min(self.past_no_shows, PAST_NO_SHOW_CAP)),
                "rate": self.past_no_shows / past if past else 0.0,
            },
            "weekday": {str(self.weekday): 1.0},
            "hour": {str(self.hour): 1.0},
            "visit_type": {self.visit_type: 1.0},
        }

    def labels(self) -> dict[str, str]:
        """Return how a receptionist reads each feature of this appointment."""
        days, shows, past = round(self.lead_days), self.past_no_shows, self.past_appointments
        return {
            "lead_time": "booked the same day" if days < 1 else f"booked {_n(days, 'day')} ahead",
            "past_no_shows": _record(shows, past),
            "weekday": f"on a {WEEKDAYS[self.weekday]}",
            "hour": f"at {self.hour:02d}:00",
            "visit_type": self.visit_type.replace("_", "-") + " visit",
        }


@dataclass(frozen=True)
class NoShowExample:
    """One past appointment: its features and whether the patient failed to come."""

    features: NoShowFeatures
    no_show: bool


@dataclass(frozen=True)
class NoShowScore:
    """A probability with the log-odds each feature adds to the average appointment's."""

    probability: float
    baseline: float  # log-odds of an average appointment (the model's intercept)
    contributions: Mapping[str, float]
    base_rate: float
    reasons: tuple[str, ...]  # strongest first, e.g. "2 past no-shows +0.90"

    @property
    def log_odds(self) -> float:
        """Return baseline plus contributions (the logit of ``probability``)."""
        return self.baseline + sum(self.contributions.values())


@dataclass(frozen=True)
class NoShowModel:
    """Coefficients over standardised columns, or a base-rate fallback (``fitted`` False)."""

    intercept: float
    columns: tuple[tuple[str, str], ...]
    means: tuple[float, ...]
    scales: tuple[float, ...]
    coefs: tuple[float, ...]
    base_rate: float
    rows: int
    no_shows: int
    fitted: bool
    note: str
    l2: float | None = None  # the penalty used; None for the base-rate fallback
    tenant_id: int | None = None

    def score(self, features: NoShowFeatures) -> NoShowScore:
        """Return the probability of a no-show and why."""
        contributions: dict[str, float] = {}
        for (group, _), coef, z in zip(self.columns, self.coefs, self._z(features), strict=True):
            contributions[group] = contributions.get(group, 0.0) + coef * z
        logit = self.intercept + sum(contributions.values())
        reasons = _reasons(features, contributions) if self.fitted else (self.note,)
        return NoShowScore(sigmoid(logit), self.intercept, contributions, self.base_rate, reasons)

    def _z(self, features: NoShowFeatures) -> list[float]:
        encoded, known = features.encoded(), set(self.columns)
        # A category unseen in training (a new hour, a new visit type) counts as average.
        unseen = {g for g in CATEGORICAL if not any((g, k) in known for k in encoded[g])}
        return [
            0.0 if group in unseen else (encoded[group].get(key, 0.0) - mean) / scale
            for (group, key), mean, scale in zip(self.columns, self.means, self.scales, strict=True)
        ]


@dataclass(frozen=True)
class NoShowEvaluation:
    """The model against the constant base-rate predictor on the last days before ``until``."""

    trained_on: int
    held_out: int
    held_out_no_shows: int
    model: Accuracy | None  # None when nothing was held out
    base_rate: Accuracy | None
    base_rate_value: float
    note: str


def build_no_show_model(
    examples: Sequence[NoShowExample], *, l2: float | None = None
) -> NoShowModel:
    """Fit the model on ``examples``, or fall back to the smoothed base rate with a note.

    Without ``l2`` the penalty is chosen from ``L2_GRID`` by cross-validated log loss, so
    features that carry no signal shrink towards zero instead of explaining noise.
    """
    if l2 is not None and l2 <= 0:
        raise ValidationFailed("The L2 penalty must be positive", field="l2")
    rows, no_shows = len(examples), sum(e.no_show for e in examples)
    rate = smoothed_rate(no_shows, rows)
    scarce = _scarcity(rows, no_shows, rate)
    if scarce is not None:
        return NoShowModel(_logit(rate), (), (), (), (), rate, rows, no_shows, False, scarce)
    encoded = [e.features.encoded() for e in examples]
    columns = _columns(encoded)
    raw = _matrix(encoded, columns)
    means, scales = raw.mean(axis=0), raw.std(axis=0)
    scales[scales < 1e-9] = 1.0
    z, y = (raw - means) / scales, np.array([float(e.no_show) for e in examples])
    penalty = choose_l2(z, y) if l2 is None else l2
    beta = fit_logistic(z, y, l2=penalty)
    note = (
        f"Fitted on {rows} appointments with {no_shows} no-shows ({no_shows / rows:.1%}), "
        f"L2 penalty {penalty:g}"
    )
    return NoShowModel(
        float(beta[0]),
        columns,
        _t(means),
        _t(scales),
        _t(beta[1:]),
        rate,
        rows,
        no_shows,
        True,
        note,
        penalty,
    )


def evaluate_examples(
    train: Sequence[NoShowExample], held: Sequence[NoShowExample]
) -> NoShowEvaluation:
    """Fit on ``train`` and score ``held`` with the model and with the base rate."""
    model = build_no_show_model(train)
    outcomes = [e.no_show for e in held]
    predicted = [model.score(e.features).probability for e in held]
    return NoShowEvaluation(
        len(train),
        len(held),
        sum(outcomes),
        accuracy(predicted, outcomes),
        accuracy([model.base_rate] * len(held), outcomes),
        model.base_rate,
        model.note,
    )


def _scarcity(rows: int, no_shows: int, rate: float) -> str | None:
    """Explain why there is too little to learn from, or return None."""
    if rows == 0:
        return f"No finished appointments yet: assuming a {rate:.0%} no-show rate"
    if rows < MIN_ROWS or min(no_shows, rows - no_shows) < MIN_PER_OUTCOME:
        return (
            f"Only {rows} finished appointments with {no_shows} no-shows: "
            f"too few to learn from, using the clinic's rate of {rate:.1%}"
        )
    return None


def _columns(encoded: Sequence[Encoded]) -> tuple[tuple[str, str], ...]:
    seen: dict[str, set[str]] = {g: set() for g in CATEGORICAL}
    for e in encoded:
        for g in CATEGORICAL:
            seen[g].update(e[g])
    ordered = [(g, k) for g in CATEGORICAL for k in sorted(seen[g], key=lambda k: (len(k), k))]
    return (*CONTINUOUS, *ordered)


def _matrix(encoded: Sequence[Encoded], columns: Sequence[tuple[str, str]]) -> Floats:
    """The raw design matrix: one row per example, a column per ``columns`` (0 if absent)."""
    index = {column: i for i, column in enumerate(columns)}
    rows, cols, values = [], [], []
    for r, e in enumerate(encoded):
        for group, features in e.items():
            for key, value in features.items():
                rows.append(r)
                cols.append(index[group, key])
                values.append(value)
    raw = np.zeros((len(encoded), len(columns)), dtype=np.float64)
    raw[rows, cols] = values
    return raw


def _reasons(features: NoShowFeatures, contributions: Mapping[str, float]) -> tuple[str, ...]:
    labels = features.labels()
    ranked = sorted(contributions.items(), key=lambda item: -abs(item[1]))
    return tuple(f"{labels[g]} {c:+.2f}" for g, c in ranked if abs(c) >= 0.005)


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


def _t(values: Floats) -> tuple[float, ...]:
    return tuple(float(v) for v in values)


def _record(no_shows: int, visits: int) -> str:
    if not visits:
        return "no earlier visits"
    if not no_shows:
        return f"no no-shows in {_n(visits, 'earlier visit')}"
    return f"{_n(no_shows, 'past no-show')} in {_n(visits, 'visit')}"


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"
