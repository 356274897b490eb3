"""Peak-hour forecast per branch: expected token arrivals per local hour of a given day.

The forecast is a weighted average of the same weekday over the last ``weeks`` weeks, by the
hour tokens were issued on the branch's wall clock. Recent weeks weigh more, linearly: last week
counts ``weeks`` times, the oldest once. A day without a single token (a holiday, before go-live)
is read as closed and left out rather than averaged in as zero. The band is the lowest and highest
count of that hour over the weeks used.

Queries: the branch (with its zone) and the tokens of the days used, one each.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.analytics.no_show import WEEKDAYS
from core.auth.permissions import require
from core.context import Actor, tenant_of
from core.errors import ValidationFailed
from core.tenancy import access_branch, tenant_timezone
from db.models import QueueToken

MAX_WEEKS = 52


@dataclass(frozen=True)
class HourForecast:
    """Expected tokens issued in the local hour ``hour``:00-``hour``:59, with a min-max band."""

    hour: int
    expected: float
    low: int
    high: int


@dataclass(frozen=True)
class PeakForecast:
    """A branch's forecast for one day: 24 hours, the peak hour and the weeks it rests on."""

    branch_id: int
    day: dt.date
    timezone: str
    hours: tuple[HourForecast, ...]
    peak_hour: int | None  # None when no week had any token
    weeks_used: int
    weeks_considered: int
    explanation: str


def forecast_hours(
    counts: Mapping[int, Sequence[int]], *, weeks: int
) -> tuple[tuple[HourForecast, ...], int | None]:
    """Forecast 24 hours from per-hour counts keyed by weeks ago (1 = last week).

    Weeks missing from ``counts`` or with no tokens at all are skipped; week ``k`` weighs
    ``weeks - k + 1``. Returns the hours and the peak hour (earliest on a tie).
    """
    used = {k: c for k, c in counts.items() if 1 <= k <= weeks and sum(c) > 0}
    total = sum(weeks - k + 1 for k in used)
    hours = tuple(_hour(h, used, weeks, total) for h in range(24))
    peak = max(hours, key=lambda f: (f.expected, -f.hour))
    return hours, (peak.hour if peak.expected > 0 else None)


def _hour(
    hour: int, used: Mapping[int, Sequence[int]], weeks: int, total_weight: int
) -> HourForecast:
    if not used:
        return HourForecast(hour, 0.0, 0, 0)
    seen = [c[hour] for c in used.values()]
    weighted = sum((weeks - k + 1) * c[hour] for k, c in used.items())
    return HourForecast(hour, weighted / total_weight, min(seen), max(seen))


def peak_hour_forecast(
    session: Session, actor: Actor, *, branch_id: int, day: dt.date, weeks: int = 8
) -> PeakForecast:
    """Forecast tokens per local hour at a branch on ``day`` from the same weekday's history."""
    require(actor, "report.read")
    tenant_id = tenant_of(session, actor)
    if not 1 <= weeks <= MAX_WEEKS:
        raise ValidationFailed(f"Weeks must be between 1 and {MAX_WEEKS}", field="weeks")
    branch = access_branch(session, actor, branch_id)
    zone = tenant_timezone(session, tenant_id, branch)
    dates = {day - dt.timedelta(weeks=k): k for k in range(1, weeks + 1)}
    rows = session.execute(
        select(QueueToken.service_date, QueueToken.issued_at).where(
            QueueToken.tenant_id == tenant_id,
            QueueToken.branch_id == branch_id,
            QueueToken.service_date.in_(list(dates)),
        )
    )
    counts: dict[int, list[int]] = {}
    for service_date, issued_at in rows:
        counts.setdefault(dates[service_date], [0] * 24)[issued_at.astimezone(zone).hour] += 1
    hours, peak = forecast_hours(counts, weeks=weeks)
    used = sum(1 for c in counts.values() if sum(c) > 0)
    return PeakForecast(
        branch_id, day, zone.key, hours, peak, used, weeks, _explain(day, weeks, used)
    )


def _explain(day: dt.date, weeks: int, used: int) -> str:
    days = f"{WEEKDAYS[day.weekday()]}s of the last {weeks} weeks"
    if used == 0:
        return f"No tokens on the {days}: nothing to forecast from"
    return (
        f"Weighted average of the {days} ({used} with tokens): last week counts {weeks}×, "
        f"{weeks} weeks ago 1×; the band is the lowest to the highest count"
    )
