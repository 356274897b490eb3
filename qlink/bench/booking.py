"""``qlink bench booking``: the public booking page's availability and booking over HTTP.

Two uvicorn servers on loopback ports in the same run: the real service (``create_app``,
``/book/{clinic}/api/...``: clinic by slug, one transaction scoped to it, core's slots minus
calendar-feed busy blocks) and a bare Starlette endpoint answering a fixed JSON list of slots.
``--concurrency`` connections (default 64, httpx ``AsyncClient``):

1. availability: ``--requests`` GETs of ``/api/slots`` for random doctors and days, beside the
   same number of GETs of the bare endpoint: requests/s and latency of both, and the ratio;
2. booking: ``--bookings`` POSTs of ``/api/book``, each for its own free slot and its own
   verified phone (codes issued and verified through core beforehand, not measured): the
   booking p50/p95 (patient registered, seat taken, audited, confirmation intent written);
3. the race: ``--racers`` (100) bookings released together for 10 slots of one doctor: exactly
   10 succeed, every other answers 409 with alternatives, and the database holds one seat per
   slot (nothing double-booked).

Client and servers share one process (one GIL), as in the other benches: compare the ratio,
not the absolute rates. Per-IP limits are lifted for the run (every client is 127.0.0.1).
Setup: a throwaway clinic ``bench-bk-<hex>`` with ``--doctors`` doctors working every day.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import random
import socket
import threading
import time
import uuid
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import uvicorn
from sqlalchemy import func, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core.messaging.messages import SEND, from_payload
from core.patients.phones import PhoneVault
from core.scheduling import web_booking
from db.engine import ALL_TENANTS, Database, make_engine
from db.migrate import upgrade
from db.models import Appointment, OutboxMessage
from db.models.scheduling import WebBookingCode
from qlink.asgi import create_app
from qlink.bench.common import positive_int, progress, run_async, safe_url, summarise, table
from qlink.builder import (
    ClinicSpec,
    DepartmentSpec,
    DoctorSpec,
    Hours,
    add_department,
    add_doctor,
    open_clinic,
)
from qlink.settings import Settings
from webhooks.booking.routes import BookingLimiter

IST = ZoneInfo("Asia/Kolkata")
RACE_SLOTS = 10
EVERY_DAY = (0, 1, 2, 3, 4, 5, 6)


def configure(parser: argparse.ArgumentParser) -> None:
    """Add this command's options."""
    parser.add_argument(
        "--requests", type=positive_int, default=2000, help="availability GETs per server (2000)"
    )
    parser.add_argument("--bookings", type=positive_int, default=300, help="bookings (300)")
    parser.add_argument("--racers", type=positive_int, default=100, help="racers for 10 slots")
    parser.add_argument("--doctors", type=positive_int, default=8, help="doctors (8)")
    parser.add_argument(
        "--concurrency", type=positive_int, default=64, help="connections (default 64)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Measure on the configured database and print the report."""
    database = Database(make_engine(settings.database_url, pool_size=args.concurrency + 8))
    try:
        progress(f"database: {safe_url(settings.database_url)}")
        upgrade(database.engine)
        report = measure(settings, database, args)
    finally:
        database.dispose()
    print(json.dumps(report) if args.json else render(report))
    return 0 if report["race"]["ok"] else 1


def measure(settings: Settings, database: Database, args: argparse.Namespace) -> dict[str, Any]:
    vault = PhoneVault(settings.data_key)
    clinic = _bench_clinic(database, args.doctors + 1)
    slug, branch_id, doctors = clinic["slug"], clinic["branch_id"], clinic["doctors"]
    race_doctor, doctors = doctors[-1], doctors[:-1]
    today = dt.datetime.now(IST).date()
    days = [today + dt.timedelta(days=n) for n in range(1, 8)]
    rng = random.Random(15)
    queries = [
        f"/book/{slug}/api/slots?branch={branch_id}&doctor={rng.choice(doctors)}"
        f"&date={rng.choice(days).isoformat()}"
        for _ in range(args.requests)
    ]
    bare = _serve(_bare_app())
    try:
        progress(f"bare JSON endpoint: {args.requests} GETs, {args.concurrency} connections")
        bare_summary = run_async(lambda: _get_all(bare.url, queries, args.concurrency))
    finally:
        bare.stop()
    app = create_app(settings, database=database)
    app.state.booking_limiter = BookingLimiter(per_ip="1000000/minute", codes="1000000/minute")
    service = _serve(app)
    try:
        progress(f"QLink availability: {args.requests} GETs, {args.concurrency} connections")
        avail = run_async(lambda: _get_all(service.url, queries, args.concurrency))
        slots = _free_slots(service.url, slug, branch_id, doctors, days, args.bookings)
        progress(f"verifying {len(slots)} phones through core (not measured)")
        bookings = [
            {**body, "slot": start, "doctor": doctor, "branch": branch_id}
            for body, (doctor, start) in zip(
                _tickets(database, vault, clinic["tenant_id"], len(slots), 0), slots, strict=True
            )
        ]
        progress(f"QLink booking: {len(bookings)} POSTs, {args.concurrency} connections")
        booked, statuses = run_async(
            lambda: _post_all(service.url, f"/book/{slug}/api/book", bookings, args.concurrency)
        )
        race_slots = _free_slots(service.url, slug, branch_id, [race_doctor], days[-1:], 10)
        racers = [
            {
                **body,
                "slot": race_slots[i % RACE_SLOTS][1],
                "doctor": race_doctor,
                "branch": branch_id,
            }
            for i, body in enumerate(
                _tickets(database, vault, clinic["tenant_id"], args.racers, 100_000)
            )
        ]
        progress(f"race: {args.racers} bookings for {RACE_SLOTS} slots at once")
        _, race_statuses = run_async(
            lambda: _post_all(service.url, f"/book/{slug}/api/book", racers, len(racers))
        )
    finally:
        service.stop()
    race = _race_report(database, clinic["tenant_id"], race_doctor, race_statuses)
    return {
        "database": database.dialect,
        "concurrency": args.concurrency,
        "availability": avail,
        "bare": bare_summary,
        "ratio": round(avail["tps"] / bare_summary["tps"], 3) if bare_summary["tps"] else None,
        "booking": booked,
        "booking_statuses": statuses,
        "race": race,
    }


def render(report: dict[str, Any]) -> str:
    rows = [
        (name, s["ops"], s["tps"], s["p50_ms"], s["p95_ms"], s["p99_ms"])
        for name, s in (
            ("QLink GET /book/{clinic}/api/slots", report["availability"]),
            ("bare Starlette JSON", report["bare"]),
            ("QLink POST /book/{clinic}/api/book", report["booking"]),
        )
    ]
    race = report["race"]
    return "\n".join(
        [
            f"qlink bench booking ({report['database']}, {report['concurrency']} connections)",
            table(("endpoint", "requests", "req/s", "p50 ms", "p95 ms", "p99 ms"), rows),
            f"availability ratio service/bare: {report['ratio']}",
            f"booking answers: {report['booking_statuses']}",
            f"race: {race['racers']} bookings for {RACE_SLOTS} slots -> {race['booked']} booked, "
            f"{race['taken_with_alternatives']} told 'slot just taken' with alternatives, "
            f"other answers {race['other']}; seats held per slot {race['seats_per_slot']} "
            f"-> {'OK' if race['ok'] else 'FAILED'}",
        ]
    )


def _bench_clinic(database: Database, doctors: int) -> dict[str, Any]:
    slug = f"bench-bk-{uuid.uuid4().hex[:8]}"
    number = f"1998{uuid.uuid4().int % 10**8:08d}"  # fictional
    with database.transaction(ALL_TENANTS) as session:
        built = open_clinic(
            session, ClinicSpec(slug=slug, name="Bench booking", phone_number_id=number)
        )
        department = add_department(
            session, built.system, branch_id=built.branch.id, spec=DepartmentSpec("GEN", "General")
        )
        ids = [
            add_doctor(
                session,
                built.system,
                department=department,
                spec=DoctorSpec(f"Dr. Bench {n:02d}", hours=(Hours(EVERY_DAY),)),
            ).id
            for n in range(doctors)
        ]
        return {
            "slug": slug,
            "tenant_id": built.tenant.id,
            "branch_id": built.branch.id,
            "doctors": ids,
        }


def _tickets(
    database: Database, vault: PhoneVault, tenant_id: int, count: int, offset: int
) -> list[dict[str, Any]]:
    """Issue and verify a code per fictional phone through core; return the booking bodies."""
    now = dt.datetime.now(dt.UTC)
    out = []
    for i in range(count):
        phone = f"+9198{(offset + i) % 10**8:08d}"
        with database.transaction(tenant_id) as session:
            web_booking.issue_code(session, tenant_id, phone=phone, vault=vault, now=now)
            session.flush()
            payload = session.scalars(
                select(OutboxMessage.payload)
                .where(OutboxMessage.tenant_id == tenant_id, OutboxMessage.kind == SEND)
                .order_by(OutboxMessage.id.desc())
                .limit(1)
            ).one()
            code = from_payload(payload)[1].params[0]  # type: ignore[union-attr]
            check = web_booking.verify_code(
                session, tenant_id, phone=phone, code=code, vault=vault, now=now
            )
        out.append(
            {"ticket": check.ticket, "phone": phone, "name": f"Bench Patient {i}", "age": 40}
        )
    return out


def _free_slots(
    url: str, slug: str, branch_id: int, doctors: list[int], days: list[dt.date], count: int
) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    with httpx.Client(base_url=url, timeout=60) as client:
        for day in days:
            for doctor in doctors:
                response = client.get(
                    f"/book/{slug}/api/slots",
                    params={"branch": branch_id, "doctor": doctor, "date": day.isoformat()},
                )
                response.raise_for_status()
                found += [(doctor, s["start"]) for s in response.json()["slots"]]
                if len(found) >= count:
                    return found[:count]
    return found


def _race_report(
    database: Database, tenant_id: int, doctor_id: int, statuses: dict[str, int]
) -> dict[str, Any]:
    with database.transaction(tenant_id, readonly=True) as session:
        per_slot = session.execute(
            select(Appointment.slot_start, func.count())
            .where(
                Appointment.tenant_id == tenant_id,
                Appointment.doctor_id == doctor_id,
                Appointment.status != "cancelled",
            )
            .group_by(Appointment.slot_start)
        ).all()
        codes = session.scalar(
            select(func.count())
            .select_from(WebBookingCode)
            .where(WebBookingCode.tenant_id == tenant_id, WebBookingCode.used_at.is_not(None))
        )
    seats = sorted(n for _, n in per_slot)
    booked = statuses.get("200", 0)
    taken = statuses.get("409+alternatives", 0)
    racers = sum(statuses.values())
    return {
        "racers": racers,
        "booked": booked,
        "taken_with_alternatives": taken,
        "other": {k: v for k, v in statuses.items() if k not in ("200", "409+alternatives")},
        "seats_per_slot": seats,
        "codes_used_in_run": codes,
        "ok": booked == RACE_SLOTS and taken == racers - RACE_SLOTS and seats == [1] * RACE_SLOTS,
    }


def _bare_app() -> Starlette:
    start = dt.datetime(2026, 12, 7, 3, 30, tzinfo=dt.UTC)
    body = {
        "date": "2026-12-07",
        "slots": [
            {
                "start": (start + dt.timedelta(minutes=30 * n)).isoformat(),
                "local": (start + dt.timedelta(minutes=30 * n)).astimezone(IST).isoformat(),
                "label": (start + dt.timedelta(minutes=30 * n)).astimezone(IST).strftime("%H:%M"),
                "seats_left": 1,
            }
            for n in range(14)
        ],
    }

    async def slots(_request: Request) -> Response:
        return JSONResponse(body)

    return Starlette(routes=[Route("/book/{clinic}/api/slots", slots, methods=["GET"])])


async def _get_all(url: str, paths: list[str], concurrency: int) -> dict[str, float | int]:
    queue: asyncio.Queue[str] = asyncio.Queue()
    for path in paths:
        queue.put_nowait(path)
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=120) as client:

        async def worker() -> None:
            while not queue.empty():
                path = queue.get_nowait()
                started = time.perf_counter()
                response = await client.get(path)
                latencies.append(time.perf_counter() - started)
                response.raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        seconds = time.perf_counter() - started
    return summarise(latencies, seconds).as_dict()


async def _post_all(
    url: str, path: str, bodies: list[dict[str, Any]], concurrency: int
) -> tuple[dict[str, float | int], dict[str, int]]:
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=120) as client:
        gate = asyncio.Event()

        async def worker() -> None:
            await gate.wait()
            while not queue.empty():
                body = queue.get_nowait()
                started = time.perf_counter()
                response = await client.post(path, json=body)
                latencies.append(time.perf_counter() - started)
                key = str(response.status_code)
                if response.status_code == 409 and response.json()["error"].get("alternatives"):
                    key = "409+alternatives"
                statuses[key] = statuses.get(key, 0) + 1

        tasks = [asyncio.create_task(worker()) for _ in range(concurrency)]
        await asyncio.sleep(0)
        started = time.perf_counter()
        gate.set()
        await asyncio.gather(*tasks)
        seconds = time.perf_counter() - started
    return summarise(latencies, seconds).as_dict(), statuses


class _Server:
    def __init__(self, app: Starlette) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="on",
            backlog=4096,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def _serve(app: Starlette) -> _Server:
    server = _Server(app)
    server.thread.start()
    deadline = time.monotonic() + 30
    while not server.server.started:
        if time.monotonic() > deadline or not server.thread.is_alive():
            raise RuntimeError("bench server did not start")
        time.sleep(0.02)
    return server
