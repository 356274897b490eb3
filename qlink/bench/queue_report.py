"""Reading a ``qlink bench queue`` run: queue checks, targets and the terminal report.

The checks read the bench clinic's queues back: every expected token issued, no duplicate
code, no gap in the numbers, no token called twice, none left waiting. The targets: at 16
clients, issuing through core at 30% or more of the bare driver's rate and a call-next p95
(desks spread over doctors) under 50 ms; at 64 clients a call-next p95 under 250 ms.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, distinct, func, select

from db.engine import Database
from db.models import QueueEvent, QueueToken
from qlink.bench.common import table
from qlink.bench.queue_setup import WARMUP_TOKENS

TARGET_CLIENTS = 16
TARGET_RATIO = 0.30
TARGET_CALL_P95_MS = 50.0
HEAVY_CLIENTS = 64
HEAVY_CALL_P95_MS = 250.0


def verify(database: Database, tenant_id: int, *, expected: int) -> dict[str, Any]:
    """Check the bench clinic's queues: no duplicate code, no gap, no token called twice."""
    token = QueueToken
    with database.transaction(tenant_id, readonly=True) as session:
        queues = session.execute(
            select(
                func.count(),
                func.count(distinct(token.code)),
                func.count(distinct(token.number)),
                func.max(token.number),
                func.sum(case((token.status == "waiting", 1), else_=0)),
            )
            .where(token.tenant_id == tenant_id)
            .group_by(token.department_id, token.service_date)
        ).all()
        calls = session.execute(
            select(func.count())
            .where(QueueEvent.tenant_id == tenant_id, QueueEvent.type == "TokenCalled")
            .group_by(QueueEvent.token_id)
        ).all()
    issued = sum(n for n, *_ in queues) - WARMUP_TOKENS
    checks = {
        "issued": issued,
        "expected": expected,
        "duplicates": sum(n - codes for n, codes, *_ in queues),
        "gaps": sum(top - numbers for _, _, numbers, top, _ in queues),
        "called_twice": sum(1 for (n,) in calls if n > 1),
        "never_called": sum(int(waiting or 0) for *_, waiting in queues),
    }
    ok = issued == expected and not any(checks[k] for k in _FAILURES)
    return {**checks, "ok": ok}


_FAILURES = ("duplicates", "gaps", "called_twice", "never_called")


def check_targets(levels: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Judge the targets at ``TARGET_CLIENTS`` (and ``HEAVY_CLIENTS``) clients, if measured."""
    at = levels.get(str(TARGET_CLIENTS))
    if at is None:
        return {"clients": TARGET_CLIENTS, "measured": False}
    ratio, p95 = at["ratio_issue_vs_bare"], at["call_next"]["p95_ms"]
    judged: dict[str, Any] = {
        "clients": TARGET_CLIENTS,
        "measured": True,
        "issue_vs_bare": {"target": TARGET_RATIO, "actual": ratio, "met": ratio >= TARGET_RATIO},
        "call_next_p95_ms": {
            "target": TARGET_CALL_P95_MS,
            "actual": p95,
            "met": p95 < TARGET_CALL_P95_MS,
        },
    }
    heavy = levels.get(str(HEAVY_CLIENTS))
    if heavy is not None:
        worst = heavy["call_next"]["p95_ms"]
        judged["heavy_call_next_p95_ms"] = {
            "clients": HEAVY_CLIENTS,
            "target": HEAVY_CALL_P95_MS,
            "actual": worst,
            "met": worst < HEAVY_CALL_P95_MS,
        }
    return judged


_PHASES = (
    ("issue", "issue_token"),
    ("call_next", "call_next, spread"),
    ("call_next_contended", "call_next, hot"),
    ("bare", "bare UPDATE+INSERT"),
)


def render(report: dict[str, Any]) -> str:
    """Format the report as tables for a terminal."""
    headers = ("clients", "phase", "ops", "tx/s", "p50 ms", "p95 ms", "p99 ms", "max ms", "stmts")
    rows = [
        (clients, label, *(result[key].get(f) for f in _FIELDS))
        for clients, result in report["levels"].items()
        for key, label in _PHASES
    ]
    ratios = ", ".join(f"{c}: {r['ratio_issue_vs_bare']:.2f}" for c, r in report["levels"].items())
    tenant, checks = report["tenant"], report["checks"]
    lines = [
        f"QLink queue benchmark on {report['database']}",
        f"per level: {report['tokens_per_level']} tokens over {report['departments_per_level']} "
        f"departments, each with {report['doctors_per_department']} doctors + 1 hot doctor "
        "(every 4th token; 'call_next, hot' = all clients call the same doctor)",
        "",
        table(headers, rows, left=2),
        "",
        f"issue through core / bare, by clients: {ratios}",
        *_target_lines(report["targets"]),
        *_projection_lines(report.get("projection")),
        "checks: "
        + ", ".join(f"{k.replace('_', ' ')} {checks[k]}" for k in ("issued", *_FAILURES))
        + (" - OK" if checks["ok"] else " - FAILED"),
        f"tenant {tenant['slug']} (id {tenant['id']}) {tenant['note']}",
    ]
    return "\n".join(lines)


_FIELDS = ("ops", "tps", "p50_ms", "p95_ms", "p99_ms", "max_ms", "statements_per_op")


def _target_lines(targets: dict[str, Any]) -> list[str]:
    if not targets["measured"]:
        return [f"targets are stated at {TARGET_CLIENTS} clients, which this run did not measure"]
    ratio, p95 = targets["issue_vs_bare"], targets["call_next_p95_ms"]
    lines = [
        f"target at {TARGET_CLIENTS} clients: issue >= {TARGET_RATIO:.0%} of bare: "
        f"{ratio['actual']:.0%} {'met' if ratio['met'] else 'MISSED'}; "
        f"call-next p95 < {TARGET_CALL_P95_MS:.0f} ms: {p95['actual']:.1f} ms "
        f"{'met' if p95['met'] else 'MISSED'}"
    ]
    heavy = targets.get("heavy_call_next_p95_ms")
    if heavy is not None:
        lines.append(
            f"target at {heavy['clients']} clients: call-next p95 < {heavy['target']:.0f} ms: "
            f"{heavy['actual']:.1f} ms {'met' if heavy['met'] else 'MISSED'}"
        )
    return lines


def _projection_lines(stats: dict[str, Any] | None) -> list[str]:
    """The after-commit ETA projections: how many for how many requests, and how fresh."""
    if not stats:
        return []
    lat = stats["latency_ms"]
    return [
        f"ETA re-projections: {stats['projected']:,} for {stats['requested']:,} queue changes "
        f"({stats['covered']:,} already covered); commit to stored ETA p50 {lat['p50']:.0f} ms, "
        f"p95 {lat['p95']:.0f} ms, max {lat['max']:.0f} ms"
    ]
