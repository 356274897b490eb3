"""Revenue, case mix, lab volumes and patient feedback KPIs (grouped in the database).

Revenue is money received: payments by the local day they were received, narrowed through the
bill's branch and doctor, so the day's revenue equals ``core.billing.views.daily_collection``.
Revenue needs ``billing.read`` on top of ``report.read``.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any, Literal

from sqlalchemy import Select, and_, case, func, select
from sqlalchemy.orm import Session

from core.analytics.bi.base import (
    BIFilter,
    Cell,
    KpiCache,
    KpiTable,
    Scope,
    as_date,
    cached,
    doctor_names,
    narrow,
    resolve,
)
from core.billing.payments import MODES
from core.context import Actor
from core.errors import ValidationFailed
from db.models import Bill, Consultation, Diagnosis, LabOrder, Payment, QueueToken, Rating

Period = Literal["day", "week", "month"]

BOUNDED_DAYS = 92  # case mix reads diagnoses from the range's first consultation on


def _payments(scope: Scope, *, bills: bool = False) -> tuple[Select[Any], Any]:
    """Payments received in range (a CTE; its columns are returned beside the query), joined
    to their bill when a KPI reads it (``bills``) or the filter narrows by the bill's branch,
    department or doctor; the network's revenue by day reads the payments alone.

    The join also bounds the bills by the smallest bill id paid in range: implied by the join
    (every joined bill is one of those), it lets the database read bills from that id on
    through the primary key instead of a year of bills (ids grow with time).
    """
    f = scope.filter
    paid = (
        select(Payment.bill_id, Payment.mode, Payment.amount_minor, Payment.received_at)
        .where(
            Payment.tenant_id == scope.tenant_id,
            Payment.received_at >= scope.start_utc,
            Payment.received_at < scope.end_utc,
        )
        .cte("paid")
    )
    query = select().select_from(paid)
    if bills or f.branch_id is not None or f.doctor_id is not None or f.department_id is not None:
        first_bill = select(func.min(paid.c.bill_id)).scalar_subquery()
        query = query.join(
            Bill, and_(Bill.tenant_id == scope.tenant_id, Bill.id == paid.c.bill_id)
        ).where(*narrow(scope, Bill), Bill.id >= first_bill)
    return query, paid.c


def revenue(
    session: Session,
    actor: Actor,
    f: BIFilter,
    *,
    period: Period = "day",
    cache: KpiCache | None = None,
) -> KpiTable:
    """Money received per day, week (from Monday) or month, split by mode (cash, card, UPI)."""
    if period not in ("day", "week", "month"):
        raise ValidationFailed("Period must be day, week or month", field="period")
    scope = resolve(session, actor, f)
    resolve(session, actor, f, permission="billing.read")

    def compute() -> KpiTable:
        query, p = _payments(scope)
        day = scope.local_date(p.received_at)
        rows = session.execute(
            query.with_only_columns(day, p.mode, func.sum(p.amount_minor), func.count()).group_by(
                day, p.mode
            )
        ).all()
        buckets: dict[dt.date, dict[str, int]] = defaultdict(lambda: dict.fromkeys(MODES, 0))
        count = 0
        for local_day, mode, total, n in rows:
            buckets[_bucket(as_date(local_day), period)][mode] += int(total)
            count += int(n)
        out: tuple[tuple[Cell, ...], ...] = tuple(
            (key, *(by_mode[m] for m in MODES), sum(by_mode.values()))
            for key, by_mode in sorted(buckets.items())
        )
        totals = {m: sum(b[m] for b in buckets.values()) for m in MODES}
        grand = sum(totals.values())
        summary: dict[str, object] = {"total_minor": grand, "payments": count}
        summary |= {f"{m}_minor": v for m, v in totals.items()}
        summary |= {
            f"{m}_pct": round(100 * v / grand) if grand else None for m, v in totals.items()
        }
        return KpiTable(
            f"revenue_{period}",
            "How much money came in, and how was it paid?",
            (period, *(f"{m}_minor" for m in MODES), "total_minor"),
            out,
            summary,  # type: ignore[arg-type]
            note="amounts in paise (minor units)",
        )

    result: KpiTable = cached(cache, session, actor, "revenue", (f, period), compute)
    return result


def _bucket(day: dt.date, period: Period) -> dt.date:
    if period == "week":
        return day - dt.timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    return day


def revenue_by_doctor(
    session: Session, actor: Actor, f: BIFilter, *, cache: KpiCache | None = None
) -> KpiTable:
    """Money received per doctor of the bill (patients billed, total), largest first."""
    scope = resolve(session, actor, f)
    resolve(session, actor, f, permission="billing.read")

    def compute() -> KpiTable:
        query, p = _payments(scope, bills=True)
        rows = session.execute(
            query.with_only_columns(
                Bill.doctor_id, func.count(func.distinct(Bill.id)), func.sum(p.amount_minor)
            )
            .group_by(Bill.doctor_id)
            .order_by(func.sum(p.amount_minor).desc())
        ).all()
        names = doctor_names(session, scope.tenant_id)
        out = tuple(
            (names.get(d, "No doctor") if d else "No doctor", int(n), int(total))
            for d, n, total in rows
        )
        return KpiTable(
            "revenue_by_doctor",
            "Which doctor's patients brought in how much?",
            ("doctor", "bills", "total_minor"),
            out,
            {"total_minor": sum(r[2] for r in out)},
            note="amounts in paise (minor units)",
        )

    result: KpiTable = cached(cache, session, actor, "revenue_by_doctor", (f,), compute)
    return result


def case_mix(
    session: Session,
    actor: Actor,
    f: BIFilter,
    *,
    limit: int = 20,
    cache: KpiCache | None = None,
) -> KpiTable:
    """The most common diagnoses (ICD-10) of consultations started in range, with their share."""
    scope = resolve(session, actor, f)

    def compute() -> KpiTable:
        c, d = Consultation, Diagnosis
        started = (
            select(c.id)
            .where(*narrow(scope, c), c.started_at >= scope.start_utc, c.started_at < scope.end_utc)
            .cte("started")
        )
        # Implied by the join (each diagnosis is of one of those consultations), the smallest
        # id lets the database read a short range's diagnoses from there on by consultation
        # instead of a year of them (ids grow with time); over a longer range that is most of
        # them, read faster by one scan, so it is left out. One scan: every diagnosis group (a
        # few hundred at most); the total is their sum.
        where = [d.tenant_id == scope.tenant_id, d.retracted.is_(False), d.is_primary.is_(True)]
        if scope.filter.days <= BOUNDED_DAYS:
            where.append(d.consultation_id >= select(func.min(started.c.id)).scalar_subquery())
        groups = session.execute(
            select(d.icd10_code, d.description, func.count())
            .join(started, started.c.id == d.consultation_id)
            .where(*where)
            .group_by(d.icd10_code, d.description)
            .order_by(func.count().desc(), d.icd10_code)
        ).all()
        total = sum(int(n) for _, _, n in groups)
        out = tuple(
            (code or "", text, int(n), round(100 * int(n) / total, 1) if total else 0.0)
            for code, text, n in groups[:limit]
        )
        return KpiTable(
            "case_mix",
            "What are we treating most?",
            ("icd10", "diagnosis", "cases", "share_pct"),
            out,
            {"diagnoses": total},
            note="primary diagnoses of consultations started in range; corrections excluded",
        )

    result: KpiTable = cached(cache, session, actor, "case_mix", (f, limit), compute)
    return result


def lab_volumes(
    session: Session, actor: Actor, f: BIFilter, *, cache: KpiCache | None = None
) -> KpiTable:
    """Lab orders per test: ordered, resulted, average and longest turnaround in minutes."""
    scope = resolve(session, actor, f)

    def compute() -> KpiTable:
        o, c = LabOrder, Consultation
        where = [
            o.tenant_id == scope.tenant_id,
            o.created_at >= scope.start_utc,
            o.created_at < scope.end_utc,
        ]
        query = select().select_from(o)
        if scope.filter.branch_id is not None:
            query = query.join(c, and_(c.tenant_id == o.tenant_id, c.id == o.consultation_id))
            where.append(c.branch_id == scope.filter.branch_id)
        where += narrow(scope, o, branch=False)[1:]
        rows = session.execute(
            query.with_only_columns(
                o.test_name,
                func.count(),
                func.count(o.resulted_at),
                func.avg(o.turnaround_seconds),
                func.max(o.turnaround_seconds),
            )
            .where(*where)
            .group_by(o.test_name)
            .order_by(func.count().desc(), o.test_name)
        ).all()
        out = tuple(
            (
                name,
                int(n),
                int(done),
                round(float(avg) / 60, 1) if avg is not None else None,
                round(int(longest) / 60, 1) if longest is not None else None,
            )
            for name, n, done, avg, longest in rows
        )
        return KpiTable(
            "lab_volumes",
            "Which tests does the lab run most, and how long do results take?",
            ("test", "ordered", "resulted", "avg_turnaround_min", "max_turnaround_min"),
            out,
            {"ordered": sum(r[1] for r in out), "resulted": sum(r[2] for r in out)},
        )

    result: KpiTable = cached(cache, session, actor, "lab_volumes", (f,), compute)
    return result


def ratings(
    session: Session, actor: Actor, f: BIFilter, *, cache: KpiCache | None = None
) -> KpiTable:
    """Ratings per doctor: how many, the average, and how many were low (1-2 stars)."""
    scope = resolve(session, actor, f)

    def compute() -> KpiTable:
        rows = session.execute(
            _rated(scope)
            .with_only_columns(
                Rating.doctor_id,
                func.count(),
                func.avg(Rating.score),
                func.sum(case((Rating.score <= 2, 1), else_=0)),
                func.count(Rating.feedback),
            )
            .group_by(Rating.doctor_id)
            .order_by(func.avg(Rating.score))
        ).all()
        names = doctor_names(session, scope.tenant_id)
        out = tuple(
            (
                names.get(d, "?") if d else "No doctor",
                int(n),
                round(float(avg), 2),
                int(low or 0),
                int(texts),
            )
            for d, n, avg, low, texts in rows
        )
        n = sum(r[1] for r in out)
        mean = sum(r[1] * r[2] for r in out) / n if n else None
        return KpiTable(
            "ratings",
            "How do patients rate each doctor, and who gets low scores?",
            ("doctor", "ratings", "avg_score", "low_scores", "with_feedback"),
            out,
            {"ratings": n, "avg_score": round(mean, 2) if mean is not None else None},
        )

    result: KpiTable = cached(cache, session, actor, "ratings", (f,), compute)
    return result


def recent_feedback(
    session: Session, actor: Actor, f: BIFilter, *, limit: int = 20, low_only: bool = False
) -> KpiTable:
    """The latest written feedback in range (lowest scores first when ``low_only``)."""
    scope = resolve(session, actor, f)
    query = _rated(scope).with_only_columns(
        Rating.created_at, Rating.doctor_id, Rating.score, Rating.feedback
    )
    query = query.where(Rating.feedback.is_not(None))
    if low_only:
        query = query.where(Rating.score <= 2)
    rows = session.execute(query.order_by(Rating.created_at.desc()).limit(limit)).all()
    names = doctor_names(session, scope.tenant_id)
    return KpiTable(
        "feedback",
        "What are patients telling us in their own words?",
        ("at", "doctor", "score", "feedback"),
        tuple(
            (
                at.astimezone(scope.zone).replace(tzinfo=None),
                names.get(d, "?") if d else "",
                int(score),
                text,
            )
            for at, d, score, text in rows
        ),
    )


def _rated(scope: Scope) -> Select[Any]:
    r, t = Rating, QueueToken
    where = [
        r.tenant_id == scope.tenant_id,
        r.created_at >= scope.start_utc,
        r.created_at < scope.end_utc,
    ]
    f = scope.filter
    if f.doctor_id is not None:
        where.append(r.doctor_id == f.doctor_id)
    query = select().select_from(r)
    if f.branch_id is not None or f.department_id is not None:
        query = query.join(t, and_(t.tenant_id == r.tenant_id, t.id == r.token_id))
        if f.branch_id is not None:
            where.append(t.branch_id == f.branch_id)
        if f.department_id is not None:
            where.append(t.department_id == f.department_id)
    return query.where(*where)
