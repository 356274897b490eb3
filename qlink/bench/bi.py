"""``qlink bench bi``: every BI KPI's latency on a year of history, beside a bare COUNT(*).

Needs the history of ``qlink seed history --years 1`` (clinic ``citycare``; ``--clinic`` names
another). Each KPI is called through core as the clinic's owner, each call in its own
transaction and without the cache (the cold path a new filter takes), rotating over four
filters an owner uses: the last 30 days of the network, the last 30 days of one branch, the
last 7 days of one doctor, and the whole year (reported apart: the pages open on 30 days, and
a year over the raw rows is what rollup tables would serve). The baseline in the same run is a bare
``SELECT count(*) FROM queue_tokens WHERE tenant_id = ?``. The overview (the KPIs the first
page shows) is also timed as one cold render and once more through a ``KpiCache``. The
no-show risk list fits its model once a day per clinic (the warm-up call pays for the fit; it
is printed apart).
Planner statistics are refreshed first (``ANALYZE``, as autovacuum does).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select, text

from core.analytics import bi
from core.analytics.bi import BIFilter, KpiCache
from core.auth.users import actor_for
from core.context import Actor
from db.engine import ALL_TENANTS, Database, make_engine
from db.models import Doctor, QueueToken, Tenant, User
from qlink.bench.common import positive_int, progress, safe_url, summarise, table
from qlink.settings import ConfigError, Settings

TARGET_P95_MS = 500.0
TARGET_OVERVIEW_MS = 2000.0
Kpi = Callable[..., Any]
KPIS: dict[str, Kpi] = {
    "daily summary": bi.daily_summary,
    "footfall vs usual": bi.footfall,
    "wait heatmap": bi.wait_heatmap,
    "peak hours": bi.peak_hours,
    "tomorrow forecast": bi.tomorrow_forecast,
    "doctor productivity": bi.doctor_productivity,
    "no-show rate": bi.no_show_rate,
    "EWT accuracy": bi.ewt_accuracy,
    "popular slots": bi.popular_slots,
    "revenue by day": bi.revenue,
    "revenue by doctor": bi.revenue_by_doctor,
    "case mix": bi.case_mix,
    "lab volumes": bi.lab_volumes,
    "ratings": bi.ratings,
    "feedback": bi.recent_feedback,
    "no-show risk (model fitted daily)": bi.highest_risk_upcoming,
}
OVERVIEW = (
    "daily summary",
    "footfall vs usual",
    "revenue by day",
    "wait heatmap",
    "peak hours",
    "no-show rate",
)


def configure(parser: argparse.ArgumentParser) -> None:
    """Add this command's options."""
    parser.add_argument("--clinic", default="citycare", help="clinic slug (default citycare)")
    parser.add_argument(
        "--repeats", type=positive_int, default=12, help="calls per KPI (default 12)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Measure on the configured database and print the report; exit 1 if a target is missed."""
    database = Database(make_engine(settings.database_url))
    try:
        progress(f"database: {safe_url(settings.database_url)}")
        owner, filters, tokens = _setup(database, args.clinic)
        report = measure(database, owner, filters, args.repeats)
        report.update(clinic=args.clinic, tokens=tokens)
    finally:
        database.dispose()
    print(json.dumps(report) if args.json else render(report))
    return 0 if report["checks"]["ok"] else 1


def _setup(database: Database, slug: str) -> tuple[Actor, list[BIFilter], int]:
    with database.transaction(ALL_TENANTS) as s:
        tenant = s.scalar(select(Tenant.id).where(Tenant.slug == slug))
        if tenant is None:
            raise ConfigError(f"No clinic {slug!r}: run `qlink seed history --years 1` first")
        user = s.scalars(
            select(User)
            .where(User.tenant_id == tenant, User.role == "clinic_admin")
            .order_by(User.id)
        ).first()
        if user is None:
            raise ConfigError(f"Clinic {slug!r} has no clinic admin to read its reports")
        last, tokens = s.execute(
            select(func.max(QueueToken.service_date), func.count()).where(
                QueueToken.tenant_id == tenant
            )
        ).one()
        if last is None:
            raise ConfigError(f"Clinic {slug!r} has no history: run `qlink seed history`")
        doctor = s.execute(
            select(Doctor.id, Doctor.department_id).where(Doctor.tenant_id == tenant).limit(1)
        ).one()
        branch = s.scalar(
            select(QueueToken.branch_id).where(QueueToken.tenant_id == tenant).limit(1)
        )
        owner = actor_for(user)
    if database.dialect == "postgresql":
        with database.engine.connect() as conn:
            conn.execute(text("ANALYZE"))
            conn.commit()
    filters = [
        BIFilter.last_days(last, 30),
        BIFilter.last_days(last, 30, branch_id=branch),
        BIFilter.last_days(last, 7, doctor_id=doctor.id),
        BIFilter.last_days(last, 365),
    ]
    return owner, filters, int(tokens)


def measure(
    database: Database, owner: Actor, filters: list[BIFilter], repeats: int
) -> dict[str, Any]:
    """Time every KPI (cold), the baseline and the overview; return the report."""
    timings: dict[str, list[float]] = {}
    year: dict[str, list[float]] = {}
    fit_ms = 0.0
    for name, kpi in KPIS.items():
        progress(f"measuring {name}")
        first = _call(database, owner, kpi, filters[0])  # warms the connection and plans
        if kpi is bi.highest_risk_upcoming:
            fit_ms = round(first * 1000, 1)  # this first call fitted the day's model
        for n in range(repeats):
            f = filters[n % len(filters)]
            seconds = _call(database, owner, kpi, f)
            (year if f.days > 31 else timings).setdefault(name, []).append(seconds)
    with database.transaction(ALL_TENANTS) as s:
        tenant = owner.require_tenant()
        query = select(func.count()).select_from(QueueToken).where(QueueToken.tenant_id == tenant)
        s.scalar(query)
    for _ in range(repeats):
        with database.transaction(ALL_TENANTS) as s:
            started = time.perf_counter()
            s.scalar(query)
            timings.setdefault("baseline: COUNT(*) tokens", []).append(
                time.perf_counter() - started
            )
    cold = _overview(database, owner, filters[0], None)
    cache = KpiCache()
    _overview(database, owner, filters[0], cache)
    warm = _overview(database, owner, filters[0], cache)
    phases = {name: summarise(values, sum(values)).as_dict() for name, values in timings.items()}
    whole_year = {name: summarise(v, sum(v)).as_dict() for name, v in year.items()}
    worst = max(p["p95_ms"] for name, p in phases.items() if name in KPIS)
    target = worst < TARGET_P95_MS if database.dialect == "postgresql" else "n/a (SQLite)"
    overview_ok = cold * 1000 < TARGET_OVERVIEW_MS
    return {
        "benchmark": "bi",
        "dialect": database.dialect,
        "filters": [_describe(f) for f in filters],
        "phases": phases,
        "year_phases": whole_year,
        "overview_ms": {"cold": round(cold * 1000, 1), "cached": round(warm * 1000, 1)},
        "no_show_model_fit_ms": fit_ms,
        "checks": {
            "worst_p95_ms": worst,
            "target_p95": target,
            "overview_under_2s": overview_ok,
            "ok": target is not False and overview_ok,
        },
    }


MODELS = KpiCache()  # the no-show model is fitted once a day per clinic (see flow.py)


def _call(database: Database, owner: Actor, kpi: Kpi, f: BIFilter) -> float:
    with database.transaction(ALL_TENANTS) as s:
        started = time.perf_counter()
        if kpi is bi.highest_risk_upcoming:
            kpi(s, owner, f, today=f.end + dt.timedelta(days=1), cache=MODELS)
        else:
            kpi(s, owner, f)
        return time.perf_counter() - started


def _overview(database: Database, owner: Actor, f: BIFilter, cache: KpiCache | None) -> float:
    started = time.perf_counter()
    with database.transaction(ALL_TENANTS) as s:
        for name in OVERVIEW:
            KPIS[name](s, owner, f, cache=cache)
    return time.perf_counter() - started


def _describe(f: BIFilter) -> str:
    what = (
        f"doctor {f.doctor_id}"
        if f.doctor_id
        else (f"branch {f.branch_id}" if f.branch_id else "network")
    )
    return f"{f.days} days, {what}"


def render(report: dict[str, Any]) -> str:
    """Render the report as text."""
    year = report["year_phases"]
    rows = [
        (
            name,
            p["ops"],
            p["p50_ms"],
            p["p95_ms"],
            year[name]["p50_ms"] if name in year else "",
            year[name]["max_ms"] if name in year else "",
        )
        for name, p in report["phases"].items()
    ]
    checks = report["checks"]
    overview = report["overview_ms"]
    return "\n".join(
        [
            f"qlink bench bi on {report['dialect']}: clinic {report['clinic']}, "
            f"{report['tokens']:,} tokens",
            "filters, in rotation: " + "; ".join(report["filters"]),
            table(("KPI (cold, no cache)", "n", "p50 ms", "p95 ms", "year p50", "year max"), rows),
            f"overview ({', '.join(OVERVIEW)}): first render {overview['cold']} ms, "
            f"cached {overview['cached']} ms",
            "p50/p95 over the 30- and 7-day filters; year = the 365-day filter (not in the target)",
            f"no-show model fit (once a day per clinic, first call): "
            f"{report['no_show_model_fit_ms']:,.0f} ms",
            f"target p95 < {TARGET_P95_MS:.0f} ms on PostgreSQL: {checks['target_p95']} "
            f"(worst {checks['worst_p95_ms']} ms); overview < 2 s: {checks['overview_under_2s']}",
        ]
    )
