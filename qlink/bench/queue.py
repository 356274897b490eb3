"""``qlink bench queue``: token issue and call-next throughput and latency, against a bare driver.

Setup is not measured (see ``queue_setup``): a throwaway clinic ``bench-<hex>`` with fresh
departments per client level, each with its doctors plus one hot doctor. Each client is a
thread doing one ``Database.transaction`` per token, like a reception desk. Tokens go
round-robin over departments; every fourth of a department's tokens is its hot doctor's, and
all clients drain the hot doctors one after another (the contended call-next). Each level ends
with the bare driver ceiling (see ``queue_bare``); ``queue_report`` verifies the queues, judges
the targets and renders the report.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from core.queue.calling import call_next
from core.queue.issuing import issue_token
from db.engine import Database, make_engine
from db.migrate import upgrade
from qlink.bench.common import (
    client_levels,
    counting_statements,
    positive_int,
    progress,
    run_clients,
    safe_url,
    summarise,
)
from qlink.bench.queue_bare import bare_transactions
from qlink.bench.queue_report import check_targets, render, verify
from qlink.bench.queue_setup import BenchClinic, Queue, Shape, setup_clinic
from qlink.keys import check_data_key
from qlink.settings import ConfigError, Settings

__all__ = ["Shape", "bare_transactions", "configure", "measure", "render", "run", "verify"]

HOT_EVERY = 4  # every fourth token of a department is for its hot doctor
MAX_DEPARTMENTS = 26
KEPT = "kept: queue_events and audit_log are append-only, so each run uses a new tenant"
Work = Callable[[int], list[float]]


def configure(parser: argparse.ArgumentParser) -> None:
    """Add this command's options."""
    parser.add_argument(
        "--clients",
        type=client_levels,
        default=(1, 16, 64),
        help="comma-separated concurrency levels (default 1,16,64)",
    )
    parser.add_argument(
        "--tokens", type=positive_int, default=2000, help="tokens per level (default 2000)"
    )
    parser.add_argument(
        "--departments",
        type=positive_int,
        default=8,
        help=f"departments per level, at most {MAX_DEPARTMENTS} (default 8: 250 tokens each)",
    )
    parser.add_argument(
        "--doctors",
        type=positive_int,
        default=2,
        help="doctors per department besides the hot doctor (default 2)",
    )
    parser.add_argument(
        "--processes",
        type=client_levels,
        default=None,
        help="instead: run the clients from N processes each, e.g. 1,2,4 (issue, call-next)",
    )
    parser.add_argument(
        "--process-clients",
        type=positive_int,
        default=16,
        help="clients in all with --processes, split evenly over the processes (default 16)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Measure on the configured database and print the report; exit 1 if a check failed."""
    if args.departments > MAX_DEPARTMENTS:
        raise ConfigError(f"--departments is at most {MAX_DEPARTMENTS}")
    shape = Shape(args.clients, args.tokens, args.departments, args.doctors)
    database = Database(make_engine(settings.database_url, pool_size=max(shape.levels)))
    try:
        progress(f"database: {safe_url(settings.database_url)}")
        upgrade(database.engine)
        check_data_key(database, settings)  # a foreign key would seal phones nobody can read
        if args.processes:
            return _run_processes(database, args)
        from workers.projector import Projector

        projector = Projector(database, background=True).install()  # as the service runs it
        try:
            report = measure(database, shape)
        finally:
            projector.uninstall()
        report["projection"] = projection_stats(projector)
    finally:
        database.dispose()
    print(json.dumps(report) if args.json else render(report))
    return 0 if report["checks"]["ok"] else 1


def _run_processes(database: Database, args: argparse.Namespace) -> int:
    """``--processes``: the same clients from 1, 2, 4… processes against one database."""
    from qlink.bench.queue_procs import measure_processes

    shape = Shape(args.processes, args.tokens, args.departments, args.doctors)
    clinic = setup_clinic(database, uuid.uuid4().hex[:10], shape)
    results = measure_processes(database, clinic, args.processes, args.process_clients, args.tokens)
    for queues in clinic.levels.values():  # drain the hot doctors too (not measured)
        run_clients(1, _caller(database, clinic, [[q.hot for q in queues]]))
    checks = verify(database, clinic.tenant_id, expected=len(args.processes) * args.tokens)
    report = {"benchmark": "queue-processes", "clients": args.process_clients, "levels": results}
    report["checks"] = checks
    print(json.dumps(report, indent=None if args.json else 2))
    return 0 if checks["ok"] else 1


def projection_stats(projector: Any) -> dict[str, Any]:
    """How many re-projections ran for how many requests, and commit → stored ETA latency."""
    stats = projector.stats
    lat = sorted(stats.latencies)

    def pct(q: float) -> float:
        return round(lat[min(int(q * len(lat)), len(lat) - 1)] * 1000, 1) if lat else 0.0

    return {
        "requested": stats.requested,
        "projected": stats.projected,
        "covered": stats.current,
        "latency_ms": {"p50": pct(0.5), "p95": pct(0.95), "max": pct(1.0)},
    }


def measure(database: Database, shape: Shape) -> dict[str, Any]:
    """Set up a bench clinic, measure each client level, verify the queues; return the report."""
    run_id = uuid.uuid4().hex[:10]
    clinic = setup_clinic(database, run_id, shape)
    results = {str(c): _level(database, clinic, c, shape.tokens, run_id) for c in shape.levels}
    return {
        "benchmark": "queue",
        "dialect": database.dialect,
        "database": database.engine.url.render_as_string(hide_password=True),
        "tokens_per_level": shape.tokens,
        "departments_per_level": shape.departments,
        "doctors_per_department": shape.doctors,
        "tenant": {"id": clinic.tenant_id, "slug": clinic.slug, "note": KEPT},
        "levels": results,
        "targets": check_targets(results),
        "checks": verify(database, clinic.tenant_id, expected=len(shape.levels) * shape.tokens),
    }


def _level(
    database: Database, clinic: BenchClinic, clients: int, tokens: int, run_id: str
) -> dict[str, Any]:
    queues = clinic.levels[clients]
    _warm_pool(database, clients)
    progress(f"{clients} clients: issuing {tokens} tokens")
    issued = _phase(database, clients, _issuer(database, clinic, queues, clients, tokens))
    progress(f"{clients} clients: calling next (spread over doctors, then the hot doctors)")
    spread = _spread([d for q in queues for d in q.spread], clients)
    called = _phase(database, clients, _caller(database, clinic, spread))
    hot = [[q.hot for q in queues]] * clients
    contended = _phase(database, clients, _caller(database, clinic, hot))
    database.engine.dispose()  # hand the pooled server connections back before the bare run
    progress(f"{clients} clients: bare driver transactions")
    bare = bare_transactions(database, clients, tokens, len(queues), run_id).as_dict()
    ratio = issued["tps"] / bare["tps"] if bare["tps"] else 0.0
    return {
        "issue": issued,
        "call_next": called,
        "call_next_contended": contended,
        "bare": bare,
        "ratio_issue_vs_bare": round(ratio, 3),
    }


def _phase(database: Database, clients: int, work: Work) -> dict[str, Any]:
    with counting_statements(database.engine) as counter:
        latencies, seconds = run_clients(clients, work)
    summary = summarise(latencies, seconds)
    per_op = counter.count / summary.ops if summary.ops else 0.0
    return {**summary.as_dict(), "statements_per_op": round(per_op, 2)}


def _issuer(
    database: Database, clinic: BenchClinic, queues: Sequence[Queue], clients: int, tokens: int
) -> Work:
    jobs = _jobs(clinic.patients[:tokens], queues)

    def work(index: int) -> list[float]:
        latencies = []
        for patient_id, department_id, doctor_id in jobs[index::clients]:
            started = time.perf_counter()
            with database.transaction(clinic.tenant_id) as session:
                token = issue_token(
                    session,
                    clinic.desk,
                    patient_id=patient_id,
                    department_id=department_id,
                    kind="walk_in",
                    doctor_id=doctor_id,
                )
            latencies.append(time.perf_counter() - started)
            if not token.created:
                raise RuntimeError(f"patient {patient_id} already held a token in this queue")
        return latencies

    return work


def _jobs(patients: Sequence[int], queues: Sequence[Queue]) -> list[tuple[int, int, int]]:
    """(patient, department, doctor) per token: departments in turn, every 4th to the hot one."""
    doctors = [itertools.cycle(q.spread) for q in queues]
    jobs = []
    for n, patient_id in enumerate(patients):
        slot, nth = n % len(queues), n // len(queues)
        queue = queues[slot]
        doctor = queue.hot if nth % HOT_EVERY == HOT_EVERY - 1 else next(doctors[slot])
        jobs.append((patient_id, queue.department_id, doctor))
    return jobs


def _caller(database: Database, clinic: BenchClinic, doctors: list[list[int]]) -> Work:
    """Client ``i`` calls for each of ``doctors[i]`` until that queue is empty."""

    def work(index: int) -> list[float]:
        latencies = []
        for doctor_id in doctors[index]:
            while True:
                started = time.perf_counter()
                with database.transaction(clinic.tenant_id) as session:
                    called = call_next(session, clinic.desk, doctor_id=doctor_id)
                if called is None:
                    break
                latencies.append(time.perf_counter() - started)
        return latencies

    return work


def _spread(doctors: Sequence[int], clients: int) -> list[list[int]]:
    """Share doctors among clients: several doctors per client, or several clients per doctor."""
    if clients <= len(doctors):
        return [list(doctors[i::clients]) for i in range(clients)]
    return [[doctors[i % len(doctors)]] for i in range(clients)]


def _warm_pool(database: Database, clients: int) -> None:
    # SQLite writers queue on one in-process lock and so use one connection at a time.
    held = [
        database.engine.connect() for _ in range(1 if database.dialect == "sqlite" else clients)
    ]
    for connection in held:
        connection.close()
