"""``qlink bench queue``: token issue and call-next throughput and latency, against a bare driver.

Setup is not measured. It creates a throwaway clinic ``bench-<hex>`` through core with, per
client level, ``--departments`` fresh departments (so codes start at 001 on fresh day counters
and a department sees a realistic day: SPEC §6 has 3,000 tokens a day over 10 departments),
each with ``--doctors`` doctors plus one hot doctor on duty all week, and bulk-inserted
patients. Each client is a thread doing one ``Database.transaction`` per token, like a reception
desk. Tokens go round-robin over departments; every fourth of a department's tokens is its hot
doctor's, and all clients drain the hot doctors one after another (the contended call-next).

The bare ceiling runs one counter UPDATE plus one INSERT per transaction on scratch tables
through the raw driver (psycopg 3 or sqlite3), with one counter row per department, picked the
same way. They are ordinary tables, not TEMP ones: a temporary table is private to its
connection, so the clients would not share the counter's row lock. They are dropped afterwards.
The clinic's own rows stay: ``queue_events`` and ``audit_log`` are append-only (triggers), so
each run uses a new tenant instead of deleting.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import secrets
import sqlite3
import string
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, distinct, func, insert, select
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from core import tenancy
from core.auth.users import actor_for, create_user
from core.context import Actor
from core.queue.calling import call_next
from core.queue.tokens import issue_token
from core.scheduling.doctors import add_weekly_schedule, create_doctor
from db.engine import ALL_TENANTS, Database, make_engine
from db.migrate import upgrade
from db.models import Patient, QueueEvent, QueueToken
from qlink.bench.common import (
    Summary,
    client_levels,
    counting_statements,
    positive_int,
    progress,
    run_clients,
    safe_url,
    summarise,
    table,
)
from qlink.settings import ConfigError, Settings

HOT_EVERY = 4  # every fourth token of a department is for its hot doctor
MAX_DEPARTMENTS = 26
WARMUP_TOKENS = 8
TARGET_CLIENTS = 16
TARGET_RATIO = 0.30
TARGET_CALL_P95_MS = 25.0
KEPT = "kept: queue_events and audit_log are append-only, so each run uses a new tenant"
Work = Callable[[int], list[float]]


@dataclass(frozen=True)
class Queue:
    """One department with its spread doctors and the hot doctor all clients call for."""

    department_id: int
    spread: tuple[int, ...]
    hot: int


@dataclass(frozen=True)
class BenchClinic:
    """The throwaway clinic: its tenant, a receptionist, patients and departments per level."""

    tenant_id: int
    slug: str
    desk: Actor
    patients: tuple[int, ...]
    levels: dict[int, tuple[Queue, ...]]


@dataclass(frozen=True)
class Shape:
    """What to measure: client levels, tokens per level, departments and doctors per level."""

    levels: tuple[int, ...]
    tokens: int
    departments: int = 8
    doctors: int = 2


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
        report = measure(database, shape)
    finally:
        database.dispose()
    print(json.dumps(report) if args.json else render(report))
    return 0 if report["checks"]["ok"] else 1


def measure(database: Database, shape: Shape) -> dict[str, Any]:
    """Set up a bench clinic, measure each client level, verify the queues; return the report."""
    run_id = uuid.uuid4().hex[:10]
    clinic = _setup(database, run_id, shape)
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
        "targets": _targets(results),
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


def _setup(database: Database, run_id: str, shape: Shape) -> BenchClinic:
    slug = f"bench-{run_id}"
    count = len(shape.levels) * shape.departments
    progress(f"setting up clinic {slug}: {count} departments, {shape.tokens} patients")
    with database.transaction(ALL_TENANTS) as session:
        tenant = tenancy.create_tenant(
            session, Actor.system(None), slug=slug, name=f"Benchmark {run_id}"
        )
        system = Actor.system(tenant.id)
        branch = tenancy.create_branch(session, system, slug="main", name="Bench branch")
        user = create_user(
            session,
            system,
            username="bench.desk",
            password=secrets.token_urlsafe(16),
            full_name="Bench Desk",
            role="receptionist",
            branch_id=branch.id,
        )
        codes = iter(f"BN{a}{b}" for a, b in itertools.product(string.ascii_uppercase, repeat=2))
        levels = {
            c: tuple(
                _queue(session, system, branch.id, next(codes), shape.doctors)
                for _ in range(shape.departments)
            )
            for c in shape.levels
        }
        warm = _queue(session, system, branch.id, "WARM", 1)
        patients = _patients(session, tenant.id, max(shape.tokens, WARMUP_TOKENS))
    clinic = BenchClinic(tenant.id, slug, actor_for(user), patients, levels)
    _warm_up(database, clinic, warm)
    return clinic


def _queue(session: Session, system: Actor, branch_id: int, code: str, doctors: int) -> Queue:
    dept = tenancy.create_department(
        session, system, branch_id=branch_id, code=code, name=f"Bench {code}"
    )
    ids = [_doctor(session, system, dept.id, branch_id, f"{code} {n}") for n in range(doctors + 1)]
    return Queue(dept.id, tuple(ids[1:]), ids[0])


def _doctor(session: Session, system: Actor, department_id: int, branch_id: int, name: str) -> int:
    """A doctor on duty around the clock, so the roster and ETAs include them all day."""
    doctor = create_doctor(
        session,
        system,
        department_id=department_id,
        full_name=f"Dr. Bench {name}",
        specialization="Benchmark",
        fee_minor=0,
        default_room=f"Room {name}",
    )
    add_weekly_schedule(
        session,
        system,
        doctor_id=doctor.id,
        branch_id=branch_id,
        weekdays=range(7),
        start=dt.time(0, 0),
        end=dt.time(23, 59),
        slot_minutes=15,
    )
    return doctor.id


def _patients(session: Session, tenant_id: int, count: int) -> tuple[int, ...]:
    """Bulk-insert bare patients (no phone, so no vault needed); return their ids in order."""
    rows = [
        {
            "tenant_id": tenant_id,
            "code": f"PATB{n:06d}",
            "full_name": f"Bench Patient {n}",
            "name_key": f"bench patient {n}",
        }
        for n in range(1, count + 1)
    ]
    session.execute(insert(Patient), rows)
    ids = select(Patient.id).where(Patient.tenant_id == tenant_id).order_by(Patient.id)
    return tuple(session.scalars(ids))


def _warm_up(database: Database, clinic: BenchClinic, queue: Queue) -> None:
    """Fill statement caches and prepared statements outside the measured phases."""
    for patient_id in clinic.patients[:WARMUP_TOKENS]:
        with database.transaction(clinic.tenant_id) as session:
            issue_token(
                session,
                clinic.desk,
                patient_id=patient_id,
                department_id=queue.department_id,
                kind="walk_in",
                doctor_id=queue.hot,
            )
    for _ in range(WARMUP_TOKENS):
        with database.transaction(clinic.tenant_id) as session:
            call_next(session, clinic.desk, doctor_id=queue.hot)


def bare_transactions(
    database: Database, clients: int, tokens: int, counters: int, run_id: str
) -> Summary:
    """Measure the raw-driver ceiling: counter UPDATE … RETURNING plus one INSERT, committed.

    Transaction ``n`` takes counter ``n % counters``, as token ``n`` takes its department's.
    """
    tables = _Bare(f"bench_counter_{run_id}", f"bench_row_{run_id}", counters)
    if database.dialect == "postgresql":
        return _bare_postgresql(database.engine.url, tables, clients, tokens)
    return _bare_sqlite(database.engine.url.database, tables, clients, tokens)


@dataclass(frozen=True)
class _Bare:
    counter: str
    rows: str
    counters: int


def _bare_clients(transact: Callable[[int, int], None], clients: int, tokens: int) -> Summary:
    def work(index: int) -> list[float]:
        latencies = []
        for n in range(index, tokens, clients):
            started = time.perf_counter()
            transact(index, n)
            latencies.append(time.perf_counter() - started)
        return latencies

    return summarise(*run_clients(clients, work))


def _bare_postgresql(url: URL, tables: _Bare, clients: int, tokens: int) -> Summary:
    import psycopg
    from psycopg import sql

    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    counter, rows = sql.Identifier(tables.counter), sql.Identifier(tables.rows)
    take = sql.SQL(
        "UPDATE {} SET last_number = last_number + 1 WHERE id = %s RETURNING last_number"
    ).format(counter)
    add = sql.SQL("INSERT INTO {} (number, code, created_at) VALUES (%s, %s, %s)").format(rows)
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute(
            sql.SQL("CREATE TABLE {} (id int PRIMARY KEY, last_number int)").format(counter)
        )
        admin.execute(
            sql.SQL(
                "CREATE TABLE {} (id bigserial PRIMARY KEY, number int NOT NULL, "
                "code text NOT NULL, created_at timestamptz NOT NULL)"
            ).format(rows)
        )
        admin.execute(
            sql.SQL("INSERT INTO {} SELECT generate_series(0, %s), 0").format(counter),
            (tables.counters - 1,),
        )
        connections = [psycopg.connect(dsn, autocommit=True) for _ in range(clients)]
        try:

            def transact(index: int, n: int) -> None:
                conn = connections[index]
                with conn.transaction():
                    (number,) = conn.execute(take, (n % tables.counters,)).fetchone() or (0,)
                    conn.execute(add, (number, f"BN-{number:03d}", dt.datetime.now(dt.UTC)))

            return _bare_clients(transact, clients, tokens)
        finally:
            for conn in connections:
                conn.close()
            admin.execute(sql.SQL("DROP TABLE {}, {}").format(counter, rows))


def _bare_sqlite(path: str | None, tables: _Bare, clients: int, tokens: int) -> Summary:
    if not path or path == ":memory:":
        raise ValueError("the bare SQLite baseline needs a database file")
    counter, rows = tables.counter, tables.rows
    connections = [_sqlite_connect(path) for _ in range(clients)]
    admin = connections[0]
    admin.execute(f"CREATE TABLE {counter} (id INTEGER PRIMARY KEY, last_number INTEGER)")
    admin.execute(
        f"CREATE TABLE {rows} (id INTEGER PRIMARY KEY, number INTEGER NOT NULL, "
        "code TEXT NOT NULL, created_at TEXT NOT NULL)"
    )
    admin.executemany(
        f"INSERT INTO {counter} VALUES (?, 0)", [(i,) for i in range(tables.counters)]
    )
    writer = threading.Lock()  # the same one-writer path Database uses on SQLite

    def transact(index: int, n: int) -> None:
        conn = connections[index]
        with writer:
            conn.execute("BEGIN IMMEDIATE")
            try:
                ((number,),) = conn.execute(
                    f"UPDATE {counter} SET last_number = last_number + 1 WHERE id = ? "
                    "RETURNING last_number",
                    (n % tables.counters,),
                ).fetchall()
                conn.execute(
                    f"INSERT INTO {rows} (number, code, created_at) VALUES (?, ?, ?)",
                    (number, f"BN-{number:03d}", dt.datetime.now(dt.UTC).isoformat()),
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    try:
        return _bare_clients(transact, clients, tokens)
    finally:
        admin.execute(f"DROP TABLE {counter}")
        admin.execute(f"DROP TABLE {rows}")
        for conn in connections:
            conn.close()


def _sqlite_connect(path: str) -> sqlite3.Connection:
    """Open sqlite3 with the pragmas ``make_engine`` uses (WAL, busy timeout, NORMAL sync)."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    for pragma in ("journal_mode=WAL", "busy_timeout=30000", "synchronous=NORMAL"):
        conn.execute(f"PRAGMA {pragma}")
    return conn


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


def _targets(levels: dict[str, dict[str, Any]]) -> dict[str, Any]:
    at = levels.get(str(TARGET_CLIENTS))
    if at is None:
        return {"clients": TARGET_CLIENTS, "measured": False}
    ratio, p95 = at["ratio_issue_vs_bare"], at["call_next"]["p95_ms"]
    return {
        "clients": TARGET_CLIENTS,
        "measured": True,
        "issue_vs_bare": {"target": TARGET_RATIO, "actual": ratio, "met": ratio >= TARGET_RATIO},
        "call_next_p95_ms": {
            "target": TARGET_CALL_P95_MS,
            "actual": p95,
            "met": p95 < TARGET_CALL_P95_MS,
        },
    }


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
    return [
        f"target at {TARGET_CLIENTS} clients: issue >= {TARGET_RATIO:.0%} of bare: "
        f"{ratio['actual']:.0%} {'met' if ratio['met'] else 'MISSED'}; "
        f"call-next p95 < {TARGET_CALL_P95_MS:.0f} ms: {p95['actual']:.1f} ms "
        f"{'met' if p95['met'] else 'MISSED'}"
    ]
