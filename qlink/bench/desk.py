"""``qlink bench desk``: the reception desk's server time and the database load of open desks.

Setup is not measured: a throwaway clinic ``bench-desk-<hex>`` built with the seed's builders
(the demo's Sharma clinic with its doctors repeated ``--doctor-sets`` times, every doctor on
duty all day), ``--patients`` patients and ``--history-days`` days of history (appointments,
tokens, consultations and bills) imported as the demo does, then today played through core:
``--tokens`` tokens issued at the desk, and most of them called, started and finished, so
each doctor has someone inside and a queue waiting.

Measured, each call in its own transaction as the desk page makes it:
- the live-queue snapshot read (``core.queue.desk_view.desk_snapshot``, uncached: what one
  tick costs when the queue moved) and the head read every tick makes (``latest_event_id``);
- patient search (``search_patients``) for name prefixes as typed, full names and codes;
- 50 simulated desks ticking every 2 s for ``--seconds`` through the page's own cached
  functions (``apps.reception.live_queues``) while the clinic calls a patient every second:
  statements per second reaching the database, and snapshot reads per queue event.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import random
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import event, select, text

from apps.common.runtime import Runtime
from core.clock import system_clock
from core.context import Actor
from core.errors import DomainError
from core.patients import PhoneVault, search_patients
from core.plans.catalogue import ensure_plans
from core.queue.calling import call_next
from core.queue.desk_view import desk_snapshot, latest_event_id
from core.queue.issuing import issue_token
from core.queue.lifecycle import finish_token, start_consultation
from db.engine import ALL_TENANTS, Database, make_engine
from db.migrate import upgrade
from db.models import Patient
from qlink.bench.common import positive_int, progress, safe_url, summarise, table
from qlink.keys import check_data_key
from qlink.seed.clinics import SHARMA, Window
from qlink.seed.demo import ZONE
from qlink.seed.history import import_history
from qlink.seed.patients import generate_profiles, import_profiles
from qlink.seed.setup import build_clinic
from qlink.settings import Settings

TARGET_MEDIAN_MS = 150.0  # fragment (snapshot) and search, PostgreSQL (issue 11)
TARGET_SEARCH_P95_MS = 100.0
DESKS = 50
TICK_SECONDS = 2.0
ALL_DAY = (Window((0, 1, 2, 3, 4, 5, 6), dt.time(0), dt.time(23, 45), 15, lunch=False),)


def configure(parser: argparse.ArgumentParser) -> None:
    """Add this command's options."""
    parser.add_argument("--tokens", type=positive_int, default=3000, help="today (default 3000)")
    parser.add_argument("--waiting", type=positive_int, default=400, help="left waiting (400)")
    parser.add_argument("--doctor-sets", type=positive_int, default=6, help="x5 doctors (6)")
    parser.add_argument("--patients", type=positive_int, default=20000, help="(default 20000)")
    parser.add_argument("--history-days", type=int, default=90, help="(default 90)")
    parser.add_argument("--reads", type=positive_int, default=60, help="snapshot reads (60)")
    parser.add_argument("--seconds", type=positive_int, default=30, help="50-desk run (30 s)")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Build the clinic, measure, print the report; exit 1 if a target was missed."""
    database = Database(make_engine(settings.database_url))
    try:
        progress(f"database: {safe_url(settings.database_url)}")
        upgrade(database.engine)
        check_data_key(database, settings)
        rt = Runtime(settings, database, PhoneVault(settings.data_key))
        desk, branch_id, slug = _clinic(rt, args)
        if database.dialect == "postgresql":
            with database.engine.begin() as conn:
                conn.execute(text("ANALYZE"))
        report = measure(rt, desk, branch_id, args)
        report["clinic"] = slug
    finally:
        database.dispose()
    print(json.dumps(report) if args.json else render(report))
    return 0 if report["checks"]["ok"] else 1


def measure(rt: Runtime, desk: Actor, branch_id: int, args: argparse.Namespace) -> dict[str, Any]:
    """Time the snapshot, the head and searches; then run the 50 desks."""
    db, rng = rt.db, random.Random(args.seed)

    def snapshot() -> object:
        with db.transaction(desk.tenant_id, readonly=True) as session:
            return desk_snapshot(session, desk, branch_id=branch_id)

    def head() -> object:
        with db.transaction(desk.tenant_id, readonly=True) as session:
            return latest_event_id(session, desk, branch_id=branch_id)

    def search(query: str) -> object:
        with db.transaction(desk.tenant_id) as session:  # audited: a write, like the page
            return search_patients(session, desk, vault=rt.vault, query=query, limit=6)

    snap = snapshot()
    waiting = sum(lane.waiting for lane in snap.board.lanes)  # type: ignore[attr-defined]
    queries = _queries(db, desk, rng)
    phases = {
        "snapshot (uncached)": _times([snapshot] * args.reads),
        "head (every tick)": _times([head] * (args.reads * 3)),
        "search": _times([lambda q=q: search(q) for q in queries]),
    }
    queries_of_snapshot = _count_statements(db, snapshot)
    desks = _desks(rt, desk, branch_id, args.seconds)
    summary = {k: summarise(v, sum(v)).as_dict() for k, v in phases.items()}
    return {
        "benchmark": "desk",
        "dialect": db.dialect,
        "today": {"tokens": args.tokens, "waiting": waiting, "lanes": len(snap.board.lanes)},  # type: ignore[attr-defined]
        "phases": summary,
        "statements_per_snapshot": queries_of_snapshot,
        "desks": desks,
        "checks": _checks(db.dialect, summary),
    }


def render(report: dict[str, Any]) -> str:
    """Render the report as text."""
    rows = [
        (name, p["ops"], p["p50_ms"], p["p95_ms"], p["p99_ms"], p["max_ms"])
        for name, p in report["phases"].items()
    ]
    d, t, c = report["desks"], report["today"], report["checks"]
    return "\n".join(
        [
            f"qlink bench desk on {report['dialect']}: clinic {report['clinic']}, "
            f"{t['tokens']:,} tokens today, {t['waiting']} waiting, {t['lanes']} doctors",
            table(("read", "n", "p50 ms", "p95 ms", "p99 ms", "max ms"), rows),
            f"one snapshot = {report['statements_per_snapshot']} statements",
            f"{d['desks']} desks ticking every {TICK_SECONDS:.0f} s for {d['seconds']} s, "
            f"{d['events']} queue events: {d['statements_per_second']:.1f} statements/s, "
            f"{d['snapshot_reads']} snapshot reads ({d['reads_per_event']:.2f} per event); "
            f"unshared it would be {d['unshared_statements_per_second']:.0f} statements/s",
            f"targets (PostgreSQL): fragment and search median < {TARGET_MEDIAN_MS:.0f} ms, "
            f"search p95 < {TARGET_SEARCH_P95_MS:.0f} ms: {c['targets']}",
        ]
    )


def _checks(dialect: str, phases: dict[str, Any]) -> dict[str, Any]:
    if dialect != "postgresql":
        return {"targets": "n/a (SQLite)", "ok": True}
    met = (
        phases["snapshot (uncached)"]["p50_ms"] < TARGET_MEDIAN_MS
        and phases["search"]["p50_ms"] < TARGET_MEDIAN_MS
        and phases["search"]["p95_ms"] < TARGET_SEARCH_P95_MS
    )
    return {"targets": met, "ok": met}


def _times(calls: list[Callable[[], object]]) -> list[float]:
    for call in calls[:3]:  # warm statement caches
        call()
    out = []
    for call in calls:
        started = time.perf_counter()
        call()
        out.append(time.perf_counter() - started)
    return out


def _count_statements(db: Database, action: Callable[[], object]) -> int:
    counter = _Counter(db)
    try:
        action()
    finally:
        counter.detach()
    return counter.count


class _Counter:
    """Statements sent to the database while attached (every connection of the engine)."""

    def __init__(self, db: Database) -> None:
        self.engine, self.count, self.lock = db.engine, 0, threading.Lock()
        event.listen(self.engine, "before_cursor_execute", self._seen)

    def _seen(self, *_: object) -> None:
        with self.lock:
            self.count += 1

    def detach(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._seen)


def _desks(rt: Runtime, desk: Actor, branch_id: int, seconds: int) -> dict[str, Any]:
    """50 desks tick through the page's shared caches while the clinic calls patients."""
    from apps.reception import live_queues  # Streamlit's cache works without a session

    live_queues._snapshot.clear()
    live_queues._cached_head.clear()
    reads = {"n": 0}
    original = live_queues.desk_snapshot

    def counted(*a: Any, **k: Any) -> Any:
        reads["n"] += 1
        return original(*a, **k)

    live_queues.desk_snapshot = counted  # type: ignore[assignment]
    stop, events = threading.Event(), {"n": 0}
    url = rt.settings.database_url
    assert desk.tenant_id is not None

    def tick(index: int) -> None:
        time.sleep(TICK_SECONDS * index / DESKS)  # desks opened at different moments
        while not stop.is_set():
            head = live_queues._cached_head(url, desk.tenant_id, branch_id, rt, desk)
            live_queues._snapshot(url, desk.tenant_id, branch_id, head, rt, desk)
            stop.wait(TICK_SECONDS)

    def clinic() -> None:
        lanes = _doctor_ids(rt, desk, branch_id)
        while not stop.wait(1.0):
            with rt.db.transaction(desk.tenant_id) as session:
                call_next(session, desk, doctor_id=random.choice(lanes))
            events["n"] += 1

    counter = _Counter(rt.db)
    threads = [threading.Thread(target=tick, args=(i,), daemon=True) for i in range(DESKS)]
    threads.append(threading.Thread(target=clinic, daemon=True))
    started = time.monotonic()
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    elapsed = time.monotonic() - started
    counter.detach()
    live_queues.desk_snapshot = original  # type: ignore[assignment]
    per_snapshot = _count_statements(rt.db, lambda: _read(rt, desk, branch_id))
    unshared = DESKS / TICK_SECONDS * (per_snapshot + 3)  # + the head read's statements
    return {
        "desks": DESKS,
        "seconds": round(elapsed, 1),
        "events": events["n"],
        "statements_per_second": counter.count / elapsed,
        "snapshot_reads": reads["n"],
        "reads_per_event": reads["n"] / max(events["n"], 1),
        "unshared_statements_per_second": unshared,
    }


def _read(rt: Runtime, desk: Actor, branch_id: int) -> object:
    with rt.db.transaction(desk.tenant_id, readonly=True) as session:
        return desk_snapshot(session, desk, branch_id=branch_id)


def _doctor_ids(rt: Runtime, desk: Actor, branch_id: int) -> list[int]:
    snap = _read(rt, desk, branch_id)
    return [lane.doctor_id for lane in snap.board.lanes]  # type: ignore[attr-defined]


def _queries(db: Database, desk: Actor, rng: random.Random) -> list[str]:
    """Entries as typed: growing prefixes of first names, full names, and codes."""
    with db.transaction(desk.tenant_id, readonly=True) as session:
        rows = session.execute(
            select(Patient.full_name, Patient.code)
            .where(Patient.tenant_id == desk.tenant_id)
            .order_by(Patient.id)
        ).all()
    picked = rng.sample(rows, min(60, len(rows)))
    queries: list[str] = []
    for name, code in picked:
        first = name.split()[0]
        queries += [first[:n] for n in range(3, len(first) + 1)]
        queries += [name, code]
    return queries


def _clinic(rt: Runtime, args: argparse.Namespace) -> tuple[Actor, int, str]:
    slug = f"bench-desk-{uuid.uuid4().hex[:8]}"
    clock = system_clock
    today = clock().astimezone(ZoneInfo(ZONE)).date()
    per_doctor = max(1, args.tokens // (5 * args.doctor_sets))
    doctors = tuple(
        dataclasses.replace(
            d, username=f"{d.username}.{n}", full_name=f"{d.full_name} {n + 1}", windows=ALL_DAY,
            room=f"Room {n * 5 + i + 1}", daily_patients=per_doctor,
        )
        for n in range(args.doctor_sets)
        for i, d in enumerate(SHARMA.doctors)
    )  # fmt: skip
    spec = dataclasses.replace(
        SHARMA, slug=slug, name=f"Desk bench {slug}", doctors=doctors, leaves=(),
        patients=args.patients, history_days=args.history_days,
        phone_number_id=str(random.randrange(10**14, 10**15)),
    )  # fmt: skip
    progress(f"building {slug}: {len(doctors)} doctors, {args.patients:,} patients")
    with rt.db.transaction(ALL_TENANTS) as session:
        ensure_plans(session, Actor.system(None, clock=clock))
        built = build_clinic(session, spec, clock=clock, today=today, zone=ZONE)
        rng = random.Random(args.seed)
        actor = Actor.system(built.tenant_id, clock=clock)
        profiles = generate_profiles(rng, spec.patients, today)
        patients = import_profiles(session, actor, rt.vault, profiles, rng, spec.history_days)
    progress(f"importing {spec.history_days} days of history")
    days = [today - dt.timedelta(days=n) for n in range(spec.history_days, 0, -1)]
    with rt.db.transaction(ALL_TENANTS) as session:
        counts = import_history(session, built.history_clinic(patients), rng, days)
    progress(f"history: {counts.tokens:,} tokens, {counts.appointments:,} appointments")
    desk = built.desk(clock)
    _play_today(rt, desk, built, [p.id for p in patients], args, rng)
    return desk, built.branch_id, slug


def _play_today(  # type: ignore[no-untyped-def]
    rt: Runtime, desk: Actor, built, patient_ids: list[int], args: argparse.Namespace, rng
) -> None:
    """Issue today's tokens through core, then call, start and finish all but the waiting."""
    doctors = list(built.doctors)
    progress(f"today: issuing {args.tokens:,} tokens")
    ids = rng.sample(patient_ids, min(args.tokens, len(patient_ids)))
    for start in range(0, len(ids), 200):
        with rt.db.transaction(desk.tenant_id) as session:
            for n, patient_id in enumerate(ids[start : start + 200], start):
                doctor = doctors[n % len(doctors)]
                issue_token(
                    session, desk, patient_id=patient_id, department_id=doctor.department_id,
                    kind="walk_in", doctor_id=doctor.id,
                )  # fmt: skip
    to_serve = max(0, len(ids) - args.waiting)
    progress(f"today: serving {to_serve:,} of them")
    served = 0
    while served < to_serve:
        before = served
        for doctor in doctors:
            if served >= to_serve:
                break
            served += _serve_one(rt, desk, doctor.id)
        if served == before:  # nobody left to call
            break
    for doctor in doctors:  # someone inside every room
        with rt.db.transaction(desk.tenant_id) as session:
            called = call_next(session, desk, doctor_id=doctor.id)
            if called is not None:
                start_consultation(session, desk, token_id=called.id)


def _serve_one(rt: Runtime, desk: Actor, doctor_id: int) -> int:
    try:
        with rt.db.transaction(desk.tenant_id) as session:
            called = call_next(session, desk, doctor_id=doctor_id)
            if called is None:
                return 0
            start_consultation(session, desk, token_id=called.id)
            finish_token(session, desk, token_id=called.id)
    except DomainError:
        return 0
    return 1
