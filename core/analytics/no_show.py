"""No-show risk per appointment: an explainable logistic regression fitted per clinic.

Features (SPEC §4): lead time, the patient's past no-shows (count and rate over earlier service
days only, so nothing from the day being predicted leaks in), weekday, local hour of the slot and
visit type. Fitted by Newton's method with an L2 penalty on standardised features, so the
intercept is the log-odds of an average appointment and each feature's contribution is its shift
from there ("2 past no-shows +0.90"). Too little history, or only one outcome, falls back to a
smoothed base rate and says so. ``evaluate_no_show_model`` measures accuracy (SPEC §7).

Queries: one for the appointments of a window and one grouped count of each patient's earlier
outcomes (plus those two for the fit when no model is passed); never one per appointment.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import groupby
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.orm import Session

from core.auth.permissions import require
from core.context import Actor, tenant_of
from core.errors import NotFound, PermissionDenied, ValidationFailed
from core.tenancy import access_branch
from db.models import Appointment, Branch, Tenant

Floats = npt.NDArray[np.float64]

NO_SHOW = "no_show"
OUTCOMES = (NO_SHOW, "completed", "checked_in", "in_consultation")  # missed, or came
HISTORY_DAYS = 365  # how far back a patient's earlier outcomes are counted
PRIOR_RATE, PRIOR_WEIGHT = 0.10, 2.0  # pseudo-counts: no history reads as a 10% rate
MIN_ROWS, MIN_PER_OUTCOME = 30, 5
L2_GRID = (1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0, 3000.0, 10000.0)  # by cross-validation
FOLDS = 5
PAST_NO_SHOW_CAP = 5
# Count and rate share one group: they explain together ("2 past no-shows in 5 visits").
CONTINUOUS = (("lead_time", "log_days"), ("past_no_shows", "count"), ("past_no_shows", "rate"))
CATEGORICAL = ("weekday", "hour", "visit_type")
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

    def encoded(self) -> dict[str, dict[str, float]]:
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
class AppointmentRisk:
    """A scheduled appointment with its no-show score."""

    appointment_id: int
    patient_id: int
    doctor_id: int
    slot_start: dt.datetime
    score: NoShowScore

    @property
    def probability(self) -> float:
        return self.score.probability


@dataclass(frozen=True)
class Accuracy:
    """Held-out accuracy: lower Brier and log loss are better; AUC 0.5 is a coin toss."""

    brier: float
    log_loss: float
    auc: float | None  # None when the held-out days hold only one outcome


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


def sigmoid(z: float) -> float:
    """Return 1 / (1 + e^-z) without overflow."""
    if z >= 0:
        return 1 / (1 + math.exp(-z))
    e = math.exp(z)
    return e / (1 + e)


def _expit(z: Floats) -> Floats:
    return 0.5 * (1 + np.tanh(0.5 * z))  # the sigmoid, without exp overflow warnings


def smoothed_rate(no_shows: int, rows: int) -> float:
    """Return the no-show rate pulled towards ``PRIOR_RATE`` (never exactly 0 or 1)."""
    return (no_shows + PRIOR_RATE * PRIOR_WEIGHT) / (rows + PRIOR_WEIGHT)


def fit_logistic(x: Floats, y: Floats, *, l2: float = 1.0, max_iter: int = 50) -> Floats:
    """Return ``[intercept, *coefs]`` maximising the L2-penalised log-likelihood (Newton)."""
    design = np.column_stack([np.ones(len(y)), x])
    penalty = np.full(design.shape[1], l2)
    penalty[0] = 0.0  # the intercept is not shrunk
    beta = np.zeros(design.shape[1])
    beta[0] = math.log((y.mean() + 1e-3) / (1 - y.mean() + 1e-3))
    for _ in range(max_iter):
        p = _expit(design @ beta)
        hessian = (design.T * (p * (1 - p))) @ design + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hessian, design.T @ (y - p) - penalty * beta)
        moved = _damped(design, y, penalty, beta, step)
        if np.max(np.abs(moved - beta)) < 1e-8:
            return moved
        beta = moved
    return beta


def _damped(design: Floats, y: Floats, penalty: Floats, beta: Floats, step: Floats) -> Floats:
    """Halve the Newton step until the objective does not get worse."""
    current = _objective(design, y, penalty, beta)
    for _ in range(30):
        candidate = beta + step
        if _objective(design, y, penalty, candidate) >= current - 1e-12:
            return candidate
        step = step / 2
    return beta


def _objective(design: Floats, y: Floats, penalty: Floats, beta: Floats) -> float:
    z = design @ beta
    return float(np.sum(y * z - np.logaddexp(0, z)) - 0.5 * np.sum(penalty * beta**2))


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
    columns = _columns(examples)
    raw = np.array([_raw(e.features, columns) for e in examples], dtype=np.float64)
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


def choose_l2(z: Floats, y: Floats) -> float:
    """Return the penalty of ``L2_GRID`` with the lowest log loss over ``FOLDS`` folds."""
    folds = np.arange(len(y)) % FOLDS  # rows come in date order: every fold spans the period
    losses = [sum(_fold_loss(z, y, folds == f, l2) for f in range(FOLDS)) for l2 in L2_GRID]
    return L2_GRID[int(np.argmin(losses))]


def _fold_loss(z: Floats, y: Floats, test: npt.NDArray[np.bool_], l2: float) -> float:
    beta = fit_logistic(z[~test], y[~test], l2=l2)
    p = np.clip(_expit(beta[0] + z[test] @ beta[1:]), 1e-12, 1 - 1e-12)
    return float(-np.sum(y[test] * np.log(p) + (1 - y[test]) * np.log(1 - p)))


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


def _columns(examples: Sequence[NoShowExample]) -> tuple[tuple[str, str], ...]:
    seen: dict[str, set[str]] = {g: set() for g in CATEGORICAL}
    for e in examples:
        encoded = e.features.encoded()
        for g in CATEGORICAL:
            seen[g].update(encoded[g])
    ordered = [(g, k) for g in CATEGORICAL for k in sorted(seen[g], key=lambda k: (len(k), k))]
    return (*CONTINUOUS, *ordered)


def _raw(features: NoShowFeatures, columns: Iterable[tuple[str, str]]) -> list[float]:
    encoded = features.encoded()
    return [encoded[group].get(key, 0.0) for group, key in columns]


def _reasons(features: NoShowFeatures, contributions: Mapping[str, float]) -> tuple[str, ...]:
    labels = features.labels()
    ranked = sorted(contributions.items(), key=lambda item: -abs(item[1]))
    return tuple(f"{labels[g]} {c:+.2f}" for g, c in ranked if abs(c) >= 0.005)


def accuracy(probabilities: Sequence[float], outcomes: Sequence[bool]) -> Accuracy | None:
    """Return Brier score, log loss and ROC AUC, or None for no outcomes."""
    if not outcomes:
        return None
    p = np.clip(np.asarray(probabilities, dtype=np.float64), 1e-12, 1 - 1e-12)
    y = np.asarray(outcomes, dtype=np.float64)
    brier = float(np.mean((p - y) ** 2))
    loss = float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))
    return Accuracy(brier, loss, roc_auc(p, y))


def roc_auc(p: Floats, y: Floats) -> float | None:
    """Return the probability a no-show outranks a show (ties count half), or None."""
    positives = int(y.sum())
    negatives = len(y) - positives
    if positives == 0 or negatives == 0:
        return None
    _, inverse, counts = np.unique(p, return_inverse=True, return_counts=True)
    mid_ranks = np.cumsum(counts) - (counts - 1) / 2  # 1-based ranks, ties averaged
    rank_sum = float(mid_ranks[inverse][y == 1].sum())
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


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


# --- Reading the clinic's appointments ------------------------------------------------------


@dataclass(frozen=True)
class _Booked:
    id: int
    patient_id: int
    doctor_id: int
    slot_start: dt.datetime
    created_at: dt.datetime
    service_date: dt.date
    visit_type: str
    status: str
    zone: str

    def features(self, past: tuple[int, int]) -> NoShowFeatures:
        lead = (self.slot_start - self.created_at).total_seconds() / 86400
        hour = self.slot_start.astimezone(ZoneInfo(self.zone)).hour
        weekday = self.service_date.weekday()
        return NoShowFeatures(max(lead, 0.0), past[0], past[1], weekday, hour, self.visit_type)


def fit_no_show_model(
    session: Session, actor: Actor, *, until: dt.date, days: int = 90
) -> NoShowModel:
    """Fit the clinic's model on outcomes of the ``days`` service days before ``until``."""
    require(actor, "report.read")
    tenant_id = tenant_of(session, actor)
    _check_positive(days=days)
    pairs = _history(session, tenant_id, start=until - dt.timedelta(days=days), until=until)
    return replace(build_no_show_model([e for _, e in pairs]), tenant_id=tenant_id)


def no_show_scores(
    session: Session,
    actor: Actor,
    *,
    day: dt.date,
    branch_id: int | None = None,
    model: NoShowModel | None = None,
) -> list[AppointmentRisk]:
    """Score the day's still-scheduled appointments (slot order); fits a model unless given."""
    require(actor, "report.read")
    tenant_id = tenant_of(session, actor)
    where = [Appointment.service_date == day, Appointment.status == "scheduled"]
    if branch_id is not None:
        access_branch(session, actor, branch_id)
        where.append(Appointment.branch_id == branch_id)
    return _risks(session, actor, tenant_id, _booked(session, tenant_id, *where), day, model)


def appointment_risk(
    session: Session, actor: Actor, *, appointment_id: int, model: NoShowModel | None = None
) -> AppointmentRisk:
    """Score one appointment of the clinic as of its service day, or raise ``NotFound``."""
    require(actor, "report.read")
    tenant_id = tenant_of(session, actor)
    rows = _booked(session, tenant_id, Appointment.id == appointment_id)
    if not rows:
        raise NotFound("Appointment not found")
    return _risks(session, actor, tenant_id, rows, rows[0].service_date, model)[0]


def evaluate_no_show_model(
    session: Session, actor: Actor, *, until: dt.date, holdout_days: int = 14, days: int = 90
) -> NoShowEvaluation:
    """Fit on ``days`` before the last ``holdout_days`` before ``until``; score those days."""
    require(actor, "report.read")
    tenant_id = tenant_of(session, actor)
    _check_positive(days=days, holdout_days=holdout_days)
    cut = until - dt.timedelta(days=holdout_days)
    pairs = _history(session, tenant_id, start=cut - dt.timedelta(days=days), until=until)
    train = [e for row, e in pairs if row.service_date < cut]
    held = [e for row, e in pairs if row.service_date >= cut]
    return evaluate_examples(train, held)


def _risks(
    session: Session,
    actor: Actor,
    tenant_id: int,
    rows: Sequence[_Booked],
    day: dt.date,
    model: NoShowModel | None,
) -> list[AppointmentRisk]:
    if not rows:
        return []
    if model is None:
        model = fit_no_show_model(session, actor, until=day)
    elif model.tenant_id != tenant_id:
        raise PermissionDenied("That model was fitted for another clinic")
    since = day - dt.timedelta(days=HISTORY_DAYS)
    counts = _past_counts(session, tenant_id, since, day, sorted({r.patient_id for r in rows}))
    return [
        AppointmentRisk(
            r.id,
            r.patient_id,
            r.doctor_id,
            r.slot_start,
            model.score(r.features(counts.get(r.patient_id, (0, 0)))),
        )
        for r in rows
    ]


def _history(
    session: Session, tenant_id: int, *, start: dt.date, until: dt.date
) -> list[tuple[_Booked, NoShowExample]]:
    """Outcomes from ``start`` to ``until`` with each patient's record of earlier days."""
    rows = _booked(
        session,
        tenant_id,
        Appointment.service_date >= start,
        Appointment.service_date < until,
        Appointment.status.in_(OUTCOMES),
    )
    counts = dict(_past_counts(session, tenant_id, start - dt.timedelta(HISTORY_DAYS), start))
    pairs: list[tuple[_Booked, NoShowExample]] = []
    for _, same_day in groupby(rows, key=lambda r: r.service_date):
        todays = list(same_day)  # scored before any of the day's outcomes is counted
        pairs += [
            (r, NoShowExample(r.features(counts.get(r.patient_id, (0, 0))), _ns(r))) for r in todays
        ]
        for r in todays:
            n, k = counts.get(r.patient_id, (0, 0))
            counts[r.patient_id] = (n + 1, k + _ns(r))
    return pairs


def _ns(row: _Booked) -> bool:
    return row.status == NO_SHOW


def _booked(session: Session, tenant_id: int, *where: ColumnElement[bool]) -> list[_Booked]:
    """Return the clinic's appointments matching ``where`` (day, slot order) with their zone."""
    query = (
        select(
            Appointment.id,
            Appointment.patient_id,
            Appointment.doctor_id,
            Appointment.slot_start,
            Appointment.created_at,
            Appointment.service_date,
            Appointment.visit_type,
            Appointment.status,
            func.coalesce(Branch.timezone, Tenant.timezone),
        )
        .join(Branch, and_(Branch.id == Appointment.branch_id, Branch.tenant_id == tenant_id))
        .join(Tenant, Tenant.id == Appointment.tenant_id)
        .where(Appointment.tenant_id == tenant_id, *where)
        .order_by(Appointment.service_date, Appointment.slot_start, Appointment.id)
    )
    return [_Booked(*row) for row in session.execute(query)]


def _past_counts(
    session: Session,
    tenant_id: int,
    since: dt.date,
    until: dt.date,
    patient_ids: Sequence[int] | None = None,
) -> dict[int, tuple[int, int]]:
    """Return each patient's (outcomes, no-shows) on service days in [since, until)."""
    no_shows = func.sum(case((Appointment.status == NO_SHOW, 1), else_=0))
    query = (
        select(Appointment.patient_id, func.count(), no_shows)
        .where(
            Appointment.tenant_id == tenant_id,
            Appointment.service_date >= since,
            Appointment.service_date < until,
            Appointment.status.in_(OUTCOMES),
        )
        .group_by(Appointment.patient_id)
    )
    if patient_ids is not None:
        query = query.where(Appointment.patient_id.in_(patient_ids))
    return {pid: (int(n), int(k or 0)) for pid, n, k in session.execute(query)}


def _check_positive(**values: int) -> None:
    for name, value in values.items():
        if value < 1:
            raise ValidationFailed(
                f"{name.replace('_', ' ').capitalize()} must be at least 1", field=name
            )
