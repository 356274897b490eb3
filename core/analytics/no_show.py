"""No-show risk per appointment: an explainable logistic regression fitted per clinic.

Features (SPEC §4): lead time, the patient's past no-shows (count and rate over earlier service
days only, so nothing from the day being predicted leaks in), weekday, local hour of the slot and
visit type. Fitted by Newton's method with an L2 penalty on standardised features, so the
intercept is the log-odds of an average appointment and each feature's contribution is its shift
from there ("2 past no-shows +0.90"). Too little history, or only one outcome, falls back to a
smoothed base rate and says so. ``evaluate_no_show_model`` measures accuracy (SPEC §7).

Queries: one for the appointments of a window and one grouped count of each patient's earlier
outcomes (plus one for the fit when no model is passed, whose running count over each patient's
days gives every appointment its earlier record in SQL); never one per appointment.

This module reads the clinic's appointments; the model itself lives in
``core.analytics.no_show_model`` and its arithmetic in ``core.analytics.logistic``. Their public
names are re-exported here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, FunctionElement, Select, and_, case, func, select
from sqlalchemy.orm import Session

from core.analytics.logistic import (
    FOLDS,
    L2_GRID,
    PRIOR_RATE,
    PRIOR_WEIGHT,
    Accuracy,
    Floats,
    accuracy,
    choose_l2,
    fit_logistic,
    roc_auc,
    sigmoid,
    smoothed_rate,
)
from core.analytics.no_show_model import (
    CATEGORICAL,
    CONTINUOUS,
    MIN_PER_OUTCOME,
    MIN_ROWS,
    PAST_NO_SHOW_CAP,
    WEEKDAYS,
    NoShowEvaluation,
    NoShowExample,
    NoShowFeatures,
    NoShowModel,
    NoShowScore,
    build_no_show_model,
    evaluate_examples,
)
from core.auth.permissions import require
from core.context import Actor, tenant_of
from core.errors import NotFound, PermissionDenied, ValidationFailed
from core.tenancy import access_branch
from db.models import Appointment, Branch, Tenant

__all__ = [
    "CATEGORICAL",
    "CONTINUOUS",
    "FOLDS",
    "HISTORY_DAYS",
    "L2_GRID",
    "MIN_PER_OUTCOME",
    "MIN_ROWS",
    "NO_SHOW",
    "OUTCOMES",
    "PAST_NO_SHOW_CAP",
    "PRIOR_RATE",
    "PRIOR_WEIGHT",
    "WEEKDAYS",
    "Accuracy",
    "AppointmentRisk",
    "Floats",
    "NoShowEvaluation",
    "NoShowExample",
    "NoShowFeatures",
    "NoShowModel",
    "NoShowScore",
    "accuracy",
    "appointment_risk",
    "build_no_show_model",
    "choose_l2",
    "evaluate_examples",
    "evaluate_no_show_model",
    "fit_logistic",
    "fit_no_show_model",
    "no_show_scores",
    "roc_auc",
    "sigmoid",
    "smoothed_rate",
]

NO_SHOW = "no_show"
OUTCOMES = (NO_SHOW, "completed", "checked_in", "in_consultation")  # missed, or came
HISTORY_DAYS = 365  # how far back a patient's earlier outcomes are counted


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
    """Outcomes from ``start`` to ``until`` with each patient's record of earlier days.

    One scan of the outcomes since ``HISTORY_DAYS`` before ``start``: a running count per
    patient over their days, less the day's own, is the record of earlier days (so nothing
    from the day being predicted leaks in). Window functions on one scan, never a join against
    them: the planner cannot misjudge it into re-running the window per appointment.
    """
    missed = case((Appointment.status == NO_SHOW, 1), else_=0)
    outcomes = (
        _selected(tenant_id)
        .add_columns(
            _earlier_days(func.count(), func.count()).label("n"),
            _earlier_days(func.sum(missed), func.sum(missed)).label("k"),
        )
        .where(
            Appointment.service_date >= start - dt.timedelta(HISTORY_DAYS),
            Appointment.service_date < until,
            Appointment.status.in_(OUTCOMES),
        )
        .subquery("outcomes")
    )
    query = (
        select(outcomes)
        .where(outcomes.c.service_date >= start)
        .order_by(outcomes.c.service_date, outcomes.c.slot_start, outcomes.c.id)
    )
    pairs = []
    for *columns, n, k in session.execute(query):
        row = _Booked(*columns)
        pairs.append((row, NoShowExample(row.features((int(n), int(k))), _ns(row))))
    return pairs


def _earlier_days(
    running: FunctionElement[Any], same_day: FunctionElement[Any]
) -> ColumnElement[Any]:
    """``running`` over the patient's days up to the row's day (its peers included: the
    default frame) less ``same_day`` over the row's day: the total of earlier days."""
    upto = running.over(partition_by=Appointment.patient_id, order_by=Appointment.service_date)
    day = same_day.over(partition_by=(Appointment.patient_id, Appointment.service_date))
    return upto - day


def _ns(row: _Booked) -> bool:
    return row.status == NO_SHOW


def _selected(
    tenant_id: int,
) -> Select[int, int, int, dt.datetime, dt.datetime, dt.date, str, str, str]:
    """The columns of ``_Booked`` for the clinic's appointments, with their zone."""
    return (
        select(
            Appointment.id,
            Appointment.patient_id,
            Appointment.doctor_id,
            Appointment.slot_start,
            Appointment.created_at,
            Appointment.service_date,
            Appointment.visit_type,
            Appointment.status,
            func.coalesce(Branch.timezone, Tenant.timezone).label("zone"),
        )
        .join(Branch, and_(Branch.id == Appointment.branch_id, Branch.tenant_id == tenant_id))
        .join(Tenant, Tenant.id == Appointment.tenant_id)
        .where(Appointment.tenant_id == tenant_id)
    )


def _booked(session: Session, tenant_id: int, *where: ColumnElement[bool]) -> list[_Booked]:
    """Return the clinic's appointments matching ``where`` (day, slot order) with their zone."""
    query = _selected(tenant_id).where(*where)
    query = query.order_by(Appointment.service_date, Appointment.slot_start, Appointment.id)
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
