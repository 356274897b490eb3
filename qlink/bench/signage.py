"""`qlink bench signage`: commit-to-screen latency of the SSE signage stream.

Three processes on loopback: the service (uvicorn, httptools + uvloop), the screens (N SSE
clients on one asyncio loop) and this one, which commits queue events through core at a steady
rate. Latency is wall-clock time from a transaction's commit to its event's arrival at each
screen. The baseline is the same N clients fed by a bare in-process broadcast inside the same
service (no database): the ratio shows what the database round trip and rendering add.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import multiprocessing as mp
import socket
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

from qlink.settings import Settings

BASELINE_PATH = "/bench/broadcast"


def configure(parser: argparse.ArgumentParser) -> None:
    """Add this command's options."""
    parser.add_argument("--clients", default="50,200", help="screen counts (default 50,200)")
    parser.add_argument("--events", type=int, default=200, help="events per run (default 200)")
    parser.add_argument("--rate", type=float, default=20.0, help="events per second (default 20)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Measure each client count against the configured database; print the numbers."""
    from db.engine import Database
    from db.migrate import upgrade
    from qlink.keys import check_data_key

    counts = [int(c) for c in str(args.clients).split(",") if c.strip()]
    database = Database.from_url(settings.database_url, pool_size=4)
    upgrade(database.engine)
    check_data_key(database, settings)  # a foreign key would seal phones nobody can read
    plan = _Plan.create(database, args.events * len(counts))
    ctx = mp.get_context("spawn")
    port = _free_port()
    server = ctx.Process(target=_serve, args=(settings, port), daemon=True)
    server.start()
    try:
        _wait_healthy(port)
        rows = [_measure(ctx, database, plan, port, n, args) for n in counts]
    finally:
        server.terminate()
        server.join(10)
        database.dispose()
    _report(settings, rows, args)
    return 0


def _measure(
    ctx: Any, database: Any, plan: _Plan, port: int, n: int, args: argparse.Namespace
) -> dict[str, Any]:
    count, rate = args.events, args.rate
    base_url = f"{BASELINE_PATH}?n={n}&count={count}&rate={rate}"
    baseline = _screens(ctx, port, base_url, n, lambda: None)
    signage_path = f"/signage/{plan.slug}.main/events"
    sent: dict[str, float] = {}
    received = _screens(
        ctx, port, signage_path, n, lambda: plan.commit(database, count, rate, sent)
    )
    latencies = [at - sent[key] for key, at in received if key in sent]
    expected = len(sent) * n
    return {
        "clients": n,
        "events": len(sent),
        "deliveries": len(latencies),
        "missing": expected - len(latencies),
        "db": _summary(latencies),
        "baseline": _summary([at - float(key) for key, at in baseline]),
    }


class _Plan:
    """A fresh bench clinic: four doctors, and the patients the run issues tokens to."""

    def __init__(self, slug: str, tenant_id: int, dept: int, doctors: list[int], pats: list[int]):
        self.slug, self.tenant_id, self.department_id = slug, tenant_id, dept
        self.doctors, self.patients = doctors, pats
        self.used = 0

    @classmethod
    def create(cls, database: Any, tokens: int) -> _Plan:
        from core import tenancy
        from core.context import Actor
        from core.scheduling.doctors import create_doctor
        from db.models import Patient

        slug = f"bench-{uuid.uuid4().hex[:8]}"
        with database.transaction("*") as s:
            tenant = tenancy.create_tenant(s, Actor.system(None), slug=slug, name="Bench clinic")
            system = Actor.system(tenant.id)
            branch = tenancy.create_branch(s, system, slug="main", name="Bench branch")
            dept = tenancy.create_department(
                s, system, branch_id=branch.id, code="GEN", name="General"
            )
            doctors = [
                create_doctor(
                    s,
                    system,
                    department_id=dept.id,
                    full_name=f"Dr. Bench {i}",
                    specialization="GP",
                    fee_minor=0,
                    default_room=f"Room {i}",
                ).id
                for i in range(1, 5)
            ]
            patients = []
            for i in range(tokens + 10):
                patient = Patient(
                    tenant_id=tenant.id,
                    code=f"B{i:06d}",
                    full_name=f"Bench Patient{i}",
                    name_key=f"bench patient{i}",
                )
                s.add(patient)
                s.flush()
                patients.append(patient.id)
        return cls(slug, tenant.id, dept.id, doctors, patients)

    def commit(self, database: Any, count: int, rate: float, sent: dict[str, float]) -> None:
        """Commit ``count`` events at ``rate``/s: mostly token issues, every third a call."""
        from core.context import Actor
        from core.queue.calling import call_next
        from core.queue.issuing import issue_token

        actor = Actor.system(self.tenant_id)
        start = time.perf_counter()
        for i in range(count):
            _sleep_until(start + i / rate)
            doctor = self.doctors[i % len(self.doctors)]
            with database.transaction(self.tenant_id) as s:
                if i % 3 == 2:
                    called = call_next(s, actor, doctor_id=doctor)
                    key = f"TokenCalled:{called.code}" if called else ""
                else:
                    token = issue_token(
                        s,
                        actor,
                        patient_id=self.patients[self.used],
                        department_id=self.department_id,
                        kind="walk_in",
                        doctor_id=doctor,
                    )
                    self.used += 1
                    key = f"TokenIssued:{token.code}"
            if key:
                sent[key] = time.time()


def _screens(ctx: Any, port: int, path: str, n: int, drive: Any) -> list[tuple[str, float]]:
    """Open ``n`` screens in a child process, run ``drive`` once all are live, collect."""
    results = ctx.Queue()
    ready = ctx.Event()
    stop = ctx.Event()
    child = ctx.Process(target=_clients_main, args=(port, path, n, results, ready, stop))
    child.start()
    if not ready.wait(120):
        child.terminate()
        raise RuntimeError(f"{n} screens did not connect")
    drive()
    time.sleep(2.0)  # let the last events arrive everywhere
    stop.set()
    received: list[tuple[str, float]] = results.get(timeout=120)
    child.join(30)
    return received


def _clients_main(port: int, path: str, n: int, results: Any, ready: Any, stop: Any) -> None:
    _use_uvloop()
    results.put(asyncio.run(_clients(port, path, n, ready, stop)))


async def _clients(port: int, path: str, n: int, ready: Any, stop: Any) -> list[tuple[str, float]]:
    received: list[tuple[str, float]] = []
    opened = 0
    all_open = asyncio.Event()

    async def screen() -> None:
        nonlocal opened
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: bench\r\nAccept: text/event-stream\r\n\r\n".encode()
        )
        first = True
        async for kind, data in _messages(reader):
            if first and kind in ("snapshot", "tick-ready"):
                first = False
                opened += 1
                if opened == n:
                    all_open.set()
            elif kind == "queue":
                update = json.loads(data)["update"]
                received.append((f"{update['type']}:{update['token']['code']}", time.time()))
            elif kind == "tick":
                received.append((json.loads(data)["sent"], time.time()))
        writer.close()

    tasks = [asyncio.create_task(screen()) for _ in range(n)]
    await asyncio.wait_for(all_open.wait(), 120)
    ready.set()
    while not stop.is_set() and not all(t.done() for t in tasks):
        await asyncio.sleep(0.05)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return received


async def _messages(reader: asyncio.StreamReader) -> AsyncIterator[tuple[str, str]]:
    await reader.readuntil(b"\r\n\r\n")  # response head; the body is chunked
    buffer = b""
    while True:
        size_line = await reader.readline()
        size = int(size_line.strip() or b"0", 16)
        if size == 0:
            return
        buffer += await reader.readexactly(size + 2)
        buffer = buffer[:-2] if buffer.endswith(b"\r\n") else buffer
        while b"\n\n" in buffer:
            raw, buffer = buffer.split(b"\n\n", 1)
            kind, data = "message", ""
            for line in raw.decode().split("\n"):
                if line.startswith("event:"):
                    kind = line[6:].strip()
                elif line.startswith("data:"):
                    data = line[5:].strip()
            yield kind, data


def _serve(settings: Settings, port: int) -> None:
    """The service under test, plus the baseline broadcast route."""
    import uvicorn
    from starlette.routing import Route

    from qlink.asgi import create_app

    app = create_app(settings)
    app.router.routes.append(Route(BASELINE_PATH, _baseline, methods=["GET"]))
    app.state.baseline = {}
    uvicorn.run(
        app, host="127.0.0.1", port=port, log_level="warning", loop="uvloop", http="httptools"
    )


async def _baseline(request: Any) -> Any:
    """Bare in-process broadcast: once ``n`` clients listen, send ``count`` ticks at ``rate``."""
    from starlette.responses import StreamingResponse

    n, count = int(request.query_params["n"]), int(request.query_params["count"])
    rate = float(request.query_params["rate"])
    key = (n, count, rate)
    group = request.app.state.baseline.setdefault(key, {"queues": [], "task": None})
    queue: asyncio.Queue[bytes | None] = asyncio.Queue()
    group["queues"].append(queue)
    if len(group["queues"]) == n:
        group["task"] = asyncio.create_task(_broadcast(group["queues"], count, rate))
        del request.app.state.baseline[key]

    async def stream() -> AsyncIterator[bytes]:
        yield b"event: tick-ready\ndata: {}\n\n"
        while (item := await queue.get()) is not None:
            yield item

    return StreamingResponse(stream(), media_type="text/event-stream")


async def _broadcast(queues: list[asyncio.Queue[bytes | None]], count: int, rate: float) -> None:
    await asyncio.sleep(0.5)
    start = time.perf_counter()
    for i in range(count):
        await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
        data = f"event: tick\ndata: {json.dumps({'sent': repr(time.time())})}\n\n".encode()
        for queue in queues:
            queue.put_nowait(data)
    await asyncio.sleep(2.5)
    for queue in queues:
        queue.put_nowait(None)


def _summary(latencies: Sequence[float]) -> dict[str, float]:
    ordered = sorted(latencies)
    if not ordered:
        return {"p50_ms": math.nan, "p95_ms": math.nan, "max_ms": math.nan}

    def pct(q: float) -> float:
        return round(ordered[max(1, math.ceil(q / 100 * len(ordered))) - 1] * 1000, 1)

    return {"p50_ms": pct(50), "p95_ms": pct(95), "max_ms": round(ordered[-1] * 1000, 1)}


def _report(settings: Settings, rows: list[dict[str, Any]], args: argparse.Namespace) -> None:
    backend = "sqlite" if settings.embedded else "postgresql"
    for row in rows:
        row["ratio_p95"] = round(row["db"]["p95_ms"] / row["baseline"]["p95_ms"], 2)
    if args.json:
        print(json.dumps({"backend": backend, "rate": args.rate, "runs": rows}))
        return
    print(f"signage commit -> screen latency on {backend}, {args.events} events at {args.rate}/s")
    print(
        f"{'screens':>7} {'p50':>7} {'p95':>7} {'max':>7} | {'base p50':>8} {'base p95':>8}"
        f" {'base max':>8} | {'p95 ratio':>9} {'missing':>7}"
    )
    for r in rows:
        d, b = r["db"], r["baseline"]
        print(
            f"{r['clients']:>7} {d['p50_ms']:>7} {d['p95_ms']:>7} {d['max_ms']:>7} | "
            f"{b['p50_ms']:>8} {b['p95_ms']:>8} {b['max_ms']:>8} | "
            f"{r['ratio_p95']:>9} {r['missing']:>7}"
        )
    print("(milliseconds; baseline = bare in-process broadcast to the same screens)")


def _use_uvloop() -> None:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvicorn[standard] ships it
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(port: int) -> None:
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the service did not become healthy")


def _sleep_until(deadline: float) -> None:
    delay = deadline - time.perf_counter()
    if delay > 0:
        time.sleep(delay)
