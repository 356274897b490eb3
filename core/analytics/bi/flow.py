"""Patient-flow KPIs: the day's summary, footfall, waits, peaks, productivity, no-shows, EWT.

Each function checks the filter (``resolve``), runs one or two grouped queries in the database
and returns a ``KpiTable``; nothing reads whole tables into Python.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.orm import Session

from core.analytics.bi.base import (
    BIFilter,
    Cell,
    KpiCache,
    KpiTable,
    Scope,
    as_date,
    cached,
    days_of,
    doctor_names,
    narrow,
    resolve,
)
from core.analytics.no_show import WEEKDAYS, NoShowModel, fit_no_show_model, no_show_scores
from core.analytics.peaks import peak_hour_forecast
from core.context import Actor
from db.models import (
    Appointment,
    Branch,
    Department,
    Doctor,
    DoctorLeave,
    DoctorSchedule,
    QueueToken,
    ScheduleBreak,
)

MODEL_DAYS = 60  # the no-show model learns from this many days before today
HISTORY_WEEKS = 8  # footfall is compared with the same weekday of this many weeks before


def _in_days(scope: Scope, date_column: Any) -> list[ColumnElement[bool]]:
    f = scope.filter
    return [date_column >= f.start, date_column <= f.end]


def daily_summary(
    session: Session, actor: Actor, f: BIFilter, *, cache: KpiCache | None = None
) -> KpiTable:
    """Appointments per day by outcome (total, completed, cancelled, no-show) and walk-ins."""
    scope = resolve(session, actor, f)

    def compute() -> KpiTable:
        a = Appointment
        rows = session.execute(
            select(
                a.service_date,
                func.count(),
                func.sum(case((a.status == "completed", 1), else_=0)),
                func.sum(case((a.status == "cancelled", 1), else_=0)),
                func.sum(case((a.status == "no_show", 1), else_=0)),
            )
            .where(*narrow(scope, a), *_in_days(scope, a.service_date))
            .group_by(a.service_date)
        ).all()
        t = QueueToken
        walk_ins = dict(
            session.execute(
                select(t.service_date, func.count())
                .where(
                    *narrow(scope, t),
                    *_in_days(scope, t.service_date),
                    t.appointment_id.is_(None),
                    t.status != "cancelled",
                )
                .group_by(t.service_date)
            ).all()
        )
        by_day = {as_date(r[0]): tuple(int(x or 0) for x in r[1:]) for r in rows}
        walk = {as_date(k): int(v) for k, v in walk_ins.items()}
        out = []
        for day in sorted(set(by_day) | set(walk)):
            total, done, cancelled, no_show = by_day.get(day, (0, 0, 0, 0))
            out.append((day, total, done, cancelled, no_show, walk.get(day, 0)))
        columns = ("day", "appointments", "completed", "cancelled", "no_show", "walk_ins")
        counts = [r[1:] for r in out]
        summary: dict[str, Cell] = {c: sum(r[i] for r in counts) for i, c in enumerate(columns[1:])}
        return KpiTable(
            "daily_summary",
            "How many were booked each day, and how many came, cancelled or did not show?",
            columns,
            tuple(out),
            summary,
        )

    result: KpiTable = cached(cache, session, actor, "daily_summary", (f,), compute)
    return result


def footfall(
    session: Session, actor: Actor, f: BIFilter, *, cache: KpiCache | None = None
) -> KpiTable:
    """Visits (tokens not cancelled) per day beside the same weekday's average of 8 weeks before."""
    scope = resolve(session, actor, f)

    def compute() -> KpiTable:
        t = QueueToken
        since = f.start - dt.timedelta(weeks=HISTORY_WEEKS)
        counts = {
            as_date(day): int(n)
            for day, n in session.execute(
                select(t.service_date, func.count())
                .where(
                    *narrow(scope, t),
                    t.service_date >= since,
                    t.service_date <= f.end,
                    t.status != "cancelled",
                )
                .group_by(t.service_date)
            )
        }
        rows = []
        for day in days_of(f):
            before = [
                counts[d]
                for k in range(1, HISTORY_WEEKS + 1)
                if (d := day - dt.timedelta(weeks=k)) in counts
            ]
            average = round(sum(before) / len(before), 1) if before else None
            n = counts.get(day, 0)
            delta = round(100 * (n - average) / average, 1) if average else None
            rows.append((day, n, average, delta))
        total = sum(r[1] for r in rows)
        return KpiTable(
            "footfall",
            "Did more or fewer patients come than on the same weekday in recent weeks?",
            ("day", "visits", "usual", "change_pct"),
            tuple(rows),
            {"visits": total, "per_day": round(total / f.days, 1)},
            note=f"usual = average of the same weekday over the {HISTORY_WEEKS} weeks before",
        )

    result: KpiTable = cached(cache, session, actor, "footfall", (f,), compute)
    return result


def wait_heatmap(
    session: Session, actor: Actor, f: BIFilter, *, cache: KpiCache | None = None
) -> KpiTable:
    """Average wait (issue to start of consultation) by weekday and local hour of arrival."""
    scope = resolve(session, actor, f)

    def compute() -> KpiTable:
        t = QueueToken
        weekday, hour = scope.weekday(t.service_date), scope.local_hour(t.issued_at)
        wait = scope.minutes(t.started_at, t.issued_at)
        rows = session.execute(
            select(weekday, hour, func.avg(wait), func.count())
            .where(*narrow(scope, t), *_in_days(scope, t.service_date), t.started_at.is_not(None))
            .group_by(weekday, hour)
            .order_by(weekday, hour)
        ).all()
        out = tuple((WEEKDAYS[int(w)], int(h), round(float(m), 1), int(n)) for w, h, m, n in rows)
        total = sum(r[3] for r in out)
        mean = sum(r[2] * r[3] for r in out) / total if total else None
        return KpiTable(
            "wait_heatmap",
            "When do patients wait longest (weekday × hour they arrived)?",
            ("weekday", "hour", "avg_wait_min", "patients"),
            out,
            {"avg_wait_min": round(mean, 1) if mean is not None else None, "patients": total},
        )

    result: KpiTable = cached(cache, session, actor, "wait_heatmap", (f,), compute)
    return result


def peak_hours(
    session: Session, actor: Actor, f: BIFilter, *, cache: KpiCache | None = None
) -> KpiTable:
    """Average arrivals per local hour over the days in range that had any arrival."""
    scope = resolve(session, actor, f)

    def compute() -> KpiTable:
        t = QueueToken
        hour = scope.local_hour(t.issued_at)
        # One scan grouped by day and hour (at most 24 rows a day); the open days and the
        # arrivals per hour are summed from those groups.
        by_day_hour = session.execute(
            select(t.service_date, hour, func.count())
            .where(*narrow(scope, t), *_in_days(scope, t.service_date))
            .group_by(t.service_date, hour)
        ).all()
        days = len({day for day, _, _ in by_day_hour})
        arrivals: dict[int, int] = defaultdict(int)
        for _, h, n in by_day_hour:
            arrivals[int(h)] += int(n)
        out = tuple((h, round(n / days, 1)) for h, n in sorted(arrivals.items())) if days else ()
        peak = max(out, key=lambda r: r[1])[0] if out else None
        return KpiTable(
            "peak_hours",
            "At which hours do most patients arrive?",
            ("hour", "arrivals_per_day"),
            out,
            {"peak_hour": peak, "open_days": days},
        )

    result: KpiTable = cached(cache, session, actor, "peak_hours", (f,), compute)
    return result


def tomorrow_forecast(
    session: Session, actor: Actor, f: BIFilter, *, day: dt.date | None = None
) -> KpiTable:
    """Expected arrivals per hour at the filter's branch (or the first branch) on ``day``.

    ``day`` defaults to the day after ``f.end``; see ``core.analytics.peaks`` for the method.
    """
    scope = resolve(session, actor, f)
    branch_id = f.branch_id
    if branch_id is None:
        branch_id = session.scalar(
            select(Branch.id).where(Branch.tenant_id == scope.tenant_id).order_by(Branch.id)
        )
    target = day or f.end + dt.timedelta(days=1)
    if branch_id is None:
        return KpiTable("forecast", "How busy will tomorrow be?", ("hour", "expected"), ())
    fc = peak_hour_forecast(session, actor, branch_id=branch_id, day=target)
    rows = tuple((h.hour, round(h.expected, 1), h.low, h.high) for h in fc.hours if h.high > 0)
    return KpiTable(
        "forecast",
        f"How busy will {target:%A %d %b} be, hour by hour?",
        ("hour", "expected", "low", "high"),
        rows,
        {"day": target, "peak_hour": fc.peak_hour, "expected": round(sum(r[1] for r in rows))},
        note=fc.explanation,
    )


def doctor_productivity(
    session: Session, actor: Actor, f: BIFilter, *, cache: KpiCache | None = None
) -> KpiTable:
    """Per doctor: patients seen, consulting vs scheduled minutes, patients per scheduled hour.

    Scheduled minutes are the weekly windows (minus breaks) over the days in range, less whole
    days of leave; consulting minutes are the sum of start-to-finish of each finished token.
    """
    scope = resolve(session, actor, f)

    def compute() -> KpiTable:
        t = QueueToken
        seen = session.execute(
            select(
                t.doctor_id,
                func.count(),
                func.sum(scope.minutes(t.finished_at, t.started_at)),
            )
            .where(
                *narrow(scope, t),
                *_in_days(scope, t.service_date),
                t.status == "done",
                t.doctor_id.is_not(None),
                t.started_at.is_not(None),
                t.finished_at.is_not(None),
            )
            .group_by(t.doctor_id)
        ).all()
        scheduled = _scheduled_minutes(session, scope)
        names = doctor_names(session, scope.tenant_id)
        out = []
        for doctor_id, n, minutes in seen:
            planned = scheduled.get(int(doctor_id), 0)
            consult = float(minutes or 0)
            out.append(
                (
                    names.get(int(doctor_id), "?"),
                    int(n),
                    round(consult),
                    planned,
                    round(100 * consult / planned, 1) if planned else None,
                    round(int(n) / (planned / 60), 2) if planned else None,
                    round(consult / int(n), 1) if n else None,
                )
            )
        out.sort(key=lambda r: -r[1])
        return KpiTable(
            "doctor_productivity",
            "Who sees how many patients in the hours they are scheduled?",
            (
                "doctor",
                "patients",
                "consult_min",
                "scheduled_min",
                "utilisation_pct",
                "patients_per_hour",
                "avg_consult_min",
            ),
            tuple(out),
        )

    result: KpiTable = cached(cache, session, actor, "doctor_productivity", (f,), compute)
    return result


def _scheduled_minutes(session: Session, scope: Scope) -> dict[int, int]:
    f = scope.filter
    s = DoctorSchedule
    where = [s.tenant_id == scope.tenant_id, s.active.is_(True)]
    if f.branch_id is not None:
        where.append(s.branch_id == f.branch_id)
    if f.doctor_id is not None:
        where.append(s.doctor_id == f.doctor_id)
    if f.department_id is not None:
        where.append(
            s.doctor_id.in_(
                select(Doctor.id).where(
                    Doctor.tenant_id == scope.tenant_id, Doctor.department_id == f.department_id
                )
            )
        )
    windows = session.execute(
        select(
            s.id, s.doctor_id, s.weekday, s.start_time, s.end_time, s.valid_from, s.valid_to
        ).where(*where)
    ).all()
    breaks: dict[int, int] = defaultdict(int)
    for schedule_id, start, end in session.execute(
        select(ScheduleBreak.schedule_id, ScheduleBreak.start_time, ScheduleBreak.end_time).where(
            ScheduleBreak.tenant_id == scope.tenant_id
        )
    ):
        breaks[schedule_id] += _span(start, end)
    leave: dict[int, set[dt.date]] = defaultdict(set)
    for doctor_id, first, last in session.execute(
        select(DoctorLeave.doctor_id, DoctorLeave.start_date, DoctorLeave.end_date).where(
            DoctorLeave.tenant_id == scope.tenant_id,
            DoctorLeave.start_time.is_(None),
            DoctorLeave.end_date >= f.start,
            DoctorLeave.start_date <= f.end,
        )
    ):
        day = max(first, f.start)
        while day <= min(last, f.end):
            leave[doctor_id].add(day)
            day += dt.timedelta(days=1)
    days = days_of(f)
    total: dict[int, int] = defaultdict(int)
    for schedule_id, doctor_id, weekday, start, end, valid_from, valid_to in windows:
        minutes = _span(start, end) - breaks.get(schedule_id, 0)
        for day in days:
            if (
                day.weekday() == weekday
                and day not in leave[doctor_id]
                and (valid_from is None or day >= valid_from)
                and (valid_to is None or day <= valid_to)
            ):
                total[doctor_id] += minutes
    return dict(total)


def _span(start: dt.time, end: dt.time) -> int:
    return (end.hour * 60 + end.minute) - (start.hour * 60 + start.minute)


def no_show_rate(
    session: Session, actor: Actor, f: BIFilter, *, cache: KpiCache | None = None
) -> KpiTable:
    """No-show rate of past appointments by how far ahead they were booked, and overall.

    The rate is no-shows over appointments that reached their day (completed or no-show).
    """
    scope = resolve(session, actor, f)

    def compute() -> KpiTable:
        a = Appointment
        lead_days = scope.minutes(a.slot_start, a.created_at) / 1440.0
        bucket = case(
            (lead_days < 1, "same day"),
            (lead_days < 3, "1-2 days"),
            (lead_days < 7, "3-6 days"),
            else_="7+ days",
        )
        rows = session.execute(
            select(
                bucket,
                func.count(),
                func.sum(case((a.status == "no_show", 1), else_=0)),
            )
            .where(
                *narrow(scope, a),
                *_in_days(scope, a.service_date),
                a.status.in_(("completed", "no_show")),
            )
            .group_by(bucket)
        ).all()
        order = {"same day": 0, "1-2 days": 1, "3-6 days": 2, "7+ days": 3}
        out = tuple(
            sorted(
                (
                    (str(b), int(n), int(ns or 0), round(100 * int(ns or 0) / int(n), 1))
                    for b, n, ns in rows
                ),
                key=lambda r: order.get(r[0], 9),
            )
        )
        n = sum(r[1] for r in out)
        ns = sum(r[2] for r in out)
        return KpiTable(
            "no_show_rate",
            "How many booked patients did not come, and does booking far ahead make it worse?",
            ("booked_ahead", "appointments", "no_shows", "rate_pct"),
            out,
            {"appointments": n, "no_shows": ns, "rate_pct": round(100 * ns / n, 1) if n else None},
        )

    result: KpiTable = cached(cache, session, actor, "no_show_rate", (f,), compute)
    return result


def highest_risk_upcoming(
    session: Session,
    actor: Actor,
    f: BIFilter,
    *,
    today: dt.date,
    days: int = 7,
    limit: int = 15,
    cache: KpiCache | None = None,
) -> KpiTable:
    """The still-scheduled appointments of the next ``days`` days most likely to be missed.

    One model is fitted on the ``MODEL_DAYS`` days before ``today`` and scores every day; each
    row says why (the model's strongest reasons). With a ``cache`` the model is fitted once a
    day per clinic (fitting is the slow part: seconds on a busy network).
    """
    scope = resolve(session, actor, f)

    def fit() -> NoShowModel:
        return fit_no_show_model(session, actor, until=today, days=MODEL_DAYS)

    model: NoShowModel = (
        cache.daily((scope.tenant_id, "no_show_model", today), fit) if cache else fit()
    )
    names = doctor_names(session, scope.tenant_id)
    risks = []
    for n in range(days):
        day = today + dt.timedelta(days=n)
        for risk in no_show_scores(session, actor, day=day, branch_id=f.branch_id, model=model):
            if f.doctor_id is not None and risk.doctor_id != f.doctor_id:
                continue
            risks.append(risk)
    if f.department_id is not None:
        wanted = set(
            session.scalars(
                select(Doctor.id).where(
                    Doctor.tenant_id == scope.tenant_id, Doctor.department_id == f.department_id
                )
            )
        )
        risks = [r for r in risks if r.doctor_id in wanted]
    risks.sort(key=lambda r: -r.score.probability)
    rows = tuple(
        (
            r.appointment_id,
            r.slot_start.astimezone(scope.zone).replace(tzinfo=None),
            names.get(r.doctor_id, "?"),
            round(100 * r.score.probability, 1),
            "; ".join(r.score.reasons[:3]),
        )
        for r in risks[:limit]
    )
    return KpiTable(
        "no_show_risk",
        "Which upcoming patients should the desk call to confirm?",
        ("appointment_id", "slot", "doctor", "risk_pct", "why"),
        rows,
        {"base_rate_pct": round(100 * model.base_rate, 1), "scored": len(risks)},
        note=model.note,
    )


def ewt_accuracy(
    session: Session, actor: Actor, f: BIFilter, *, cache: KpiCache | None = None
) -> KpiTable:
    """Predicted vs actual wait to be called, per department: MAE of the estimate and of naive.

    The estimate is the token's ETA (``eta_at``) at the time it was last set; the naive guess
    says every patient waits the department's average wait over the range.
    """
    scope = resolve(session, actor, f)

    def compute() -> KpiTable:
        t = QueueToken
        actual = scope.minutes(t.called_at, t.issued_at)
        predicted = scope.minutes(t.eta_at, t.issued_at)
        where = [
            *narrow(scope, t),
            *_in_days(scope, t.service_date),
            t.called_at.is_not(None),
            t.eta_at.is_not(None),
        ]
        # One scan: each token with its department's mean wait over the range (a window).
        waits = (
            select(
                t.department_id.label("dep"),
                actual.label("actual"),
                predicted.label("predicted"),
                func.avg(actual).over(partition_by=t.department_id).label("mean"),
            )
            .where(*where)
            .subquery()
        )
        rows = session.execute(
            select(
                Department.name,
                func.count(),
                func.avg(waits.c.actual),
                func.avg(func.abs(waits.c.actual - waits.c.predicted)),
                func.avg(func.abs(waits.c.actual - waits.c.mean)),
            )
            .select_from(waits)
            .join(
                Department,
                and_(Department.tenant_id == scope.tenant_id, Department.id == waits.c.dep),
            )
            .group_by(Department.name)
            .order_by(Department.name)
        ).all()
        out = tuple(
            (name, int(n), round(float(w), 1), round(float(m), 1), round(float(z), 1))
            for name, n, w, m, z in rows
        )
        n = sum(r[1] for r in out)
        mae = sum(r[1] * r[3] for r in out) / n if n else None
        naive = sum(r[1] * r[4] for r in out) / n if n else None
        return KpiTable(
            "ewt_accuracy",
            "How close were the waits we told patients to the waits they had?",
            ("department", "patients", "avg_wait_min", "mae_estimate_min", "mae_naive_min"),
            out,
            {
                "patients": n,
                "mae_estimate_min": round(mae, 1) if mae is not None else None,
                "mae_naive_min": round(naive, 1) if naive is not None else None,
            },
            note="naive = everyone waits the department's average; lower MAE is better",
        )

    result: KpiTable = cached(cache, session, actor, "ewt_accuracy", (f,), compute)
    return result


def popular_slots(
    session: Session, actor: Actor, f: BIFilter, *, cache: KpiCache | None = None
) -> KpiTable:
    """Appointments (not cancelled) by weekday and local hour of the slot, busiest first."""
    scope = resolve(session, actor, f)

    def compute() -> KpiTable:
        a = Appointment
        weekday, hour = scope.weekday(a.service_date), scope.local_hour(a.slot_start)
        rows = session.execute(
            select(weekday, hour, func.count())
            .where(*narrow(scope, a), *_in_days(scope, a.service_date), a.status != "cancelled")
            .group_by(weekday, hour)
            .order_by(func.count().desc(), weekday, hour)
        ).all()
        return KpiTable(
            "popular_slots",
            "Which appointment hours fill first?",
            ("weekday", "hour", "appointments"),
            tuple((WEEKDAYS[int(w)], int(h), int(n)) for w, h, n in rows),
        )

    result: KpiTable = cached(cache, session, actor, "popular_slots", (f,), compute)
    return result
