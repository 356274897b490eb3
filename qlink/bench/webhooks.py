"""``qlink bench webhooks``: signed WhatsApp deliveries per second into ``/webhooks/whatsapp``.

Two uvicorn servers on loopback ports, in the same run: the real service (``create_app``: the
signature check, JSON check, the inbox row committed, processing scheduled after commit) and a
bare Starlette endpoint that only checks the HMAC and answers 200. ``--concurrency``
connections (default 64, httpx ``AsyncClient``) post ``--requests`` deliveries to each: one
text message per delivery, from its own fictional sender, signed beforehand, with a fresh
``wamid``. Client and servers share one process (one GIL), as in the other benches: compare
the ratio, not the absolute rates. Printed: messages/s and latency percentiles of both, side
by side, and the ratio; then how long the service took to process what it accepted
(informational: processing is after the answer). Setup (a throwaway
clinic ``bench-wh-<hex>`` with a fictional WhatsApp number) is not measured.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import socket
import threading
import time
import uuid
from typing import Any

import httpx
import uvicorn
from sqlalchemy import func, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from db.engine import ALL_TENANTS, Database, make_engine
from db.migrate import upgrade
from db.models.messaging import WebhookInbox
from qlink.asgi import create_app
from qlink.bench.common import positive_int, progress, run_async, safe_url, summarise, table
from qlink.builder import ClinicSpec, open_clinic
from qlink.settings import Settings

DRAIN_TIMEOUT = 120.0


def configure(parser: argparse.ArgumentParser) -> None:
    """Add this command's options."""
    parser.add_argument(
        "--requests", type=positive_int, default=2000, help="deliveries per server (2000)"
    )
    parser.add_argument(
        "--concurrency", type=positive_int, default=64, help="connections (default 64)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Measure both servers on the configured database and print the report."""
    database = Database(make_engine(settings.database_url, pool_size=args.concurrency))
    try:
        progress(f"database: {safe_url(settings.database_url)}")
        upgrade(database.engine)
        number = _bench_clinic(database)
        report = measure(settings, database, number, args.requests, args.concurrency)
    finally:
        database.dispose()
    print(json.dumps(report) if args.json else render(report))
    return 0


def measure(
    settings: Settings, database: Database, number: str, requests: int, concurrency: int
) -> dict[str, Any]:
    """Post ``requests`` signed deliveries to the bare endpoint, then to the service."""
    secret = settings.whatsapp_app_secret
    bodies = [_signed(number, secret, f"91987650{i % 10_000:04d}") for i in range(requests)]
    bare = _serve(_bare_app(secret))
    try:
        progress(f"bare HMAC endpoint: {requests} deliveries, {concurrency} connections")
        bare_summary = run_async(lambda: _post_all(bare.url, bodies, concurrency))
    finally:
        bare.stop()
    before = _last_inbox_id(database)
    app = create_app(settings, database=database)
    service = _serve(app)
    try:
        progress(f"QLink service: {requests} deliveries, {concurrency} connections")
        service_summary = run_async(lambda: _post_all(service.url, bodies, concurrency))
        drained = _drain(database, before, requests)
    finally:
        service.stop()
    return {
        "database": database.dialect,
        "concurrency": concurrency,
        "requests": requests,
        "service": service_summary,
        "bare": bare_summary,
        "ratio": round(service_summary["tps"] / bare_summary["tps"], 3)
        if bare_summary["tps"]
        else None,
        "processed_within_s": drained,
    }


def render(report: dict[str, Any]) -> str:
    """Return the report as a table."""
    rows = [
        (name, s["ops"], s["tps"], s["p50_ms"], s["p95_ms"], s["p99_ms"])
        for name, s in (
            ("QLink /webhooks/whatsapp", report["service"]),
            ("bare HMAC", report["bare"]),
        )
    ]
    drained = report["processed_within_s"]
    return "\n".join(
        [
            f"qlink bench webhooks ({report['database']}, {report['concurrency']} connections)",
            table(("server", "messages", "msg/s", "p50 ms", "p95 ms", "p99 ms"), rows),
            f"ratio service/bare: {report['ratio']}",
            "all accepted deliveries processed "
            + (
                f"{drained} s after the last answer"
                if drained is not None
                else f"NOT within {DRAIN_TIMEOUT:.0f} s"
            ),
        ]
    )


def _bench_clinic(database: Database) -> str:
    number = f"1999{uuid.uuid4().int % 10**8:08d}"  # fictional
    slug = f"bench-wh-{uuid.uuid4().hex[:8]}"
    with database.transaction(ALL_TENANTS) as session:
        open_clinic(session, ClinicSpec(slug=slug, name="Bench webhooks", phone_number_id=number))
    return number


def _signed(number: str, secret: str, sender: str) -> tuple[bytes, str]:
    message = {
        "from": sender,
        "id": f"wamid.BENCH{uuid.uuid4().hex}",
        "timestamp": str(int(time.time())),
        "type": "text",
        "text": {"body": "status"},
    }
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550000000", "phone_number_id": number},
        "contacts": [{"profile": {"name": "Bench"}, "wa_id": sender}],
        "messages": [message],
    }
    body = json.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [{"id": "1", "changes": [{"field": "messages", "value": value}]}],
        }
    ).encode()
    return body, "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _bare_app(secret: str) -> Starlette:
    key = secret.encode()

    async def receive(request: Request) -> Response:
        body = await request.body()
        expected = "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()
        given = request.headers.get("x-hub-signature-256", "")
        if not hmac.compare_digest(expected.encode(), given.encode()):
            return PlainTextResponse("Bad signature", status_code=403)
        return PlainTextResponse("OK")

    return Starlette(routes=[Route("/webhooks/whatsapp", receive, methods=["POST"])])


async def _post_all(
    url: str, bodies: list[tuple[bytes, str]], concurrency: int
) -> dict[str, float | int]:
    queue: asyncio.Queue[tuple[bytes, str]] = asyncio.Queue()
    for item in bodies:
        queue.put_nowait(item)
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:

        async def worker() -> None:
            while not queue.empty():
                body, signature = queue.get_nowait()
                headers = {"Content-Type": "application/json", "X-Hub-Signature-256": signature}
                started = time.perf_counter()
                response = await client.post("/webhooks/whatsapp", content=body, headers=headers)
                latencies.append(time.perf_counter() - started)
                response.raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        seconds = time.perf_counter() - started
    return summarise(latencies, seconds).as_dict()


def _last_inbox_id(database: Database) -> int:
    with database.transaction(ALL_TENANTS, readonly=True) as session:
        return int(session.scalar(select(func.max(WebhookInbox.id))) or 0)


def _processed_since(database: Database, after_id: int) -> int:
    with database.transaction(ALL_TENANTS, readonly=True) as session:
        query = select(func.count()).where(
            WebhookInbox.id > after_id, WebhookInbox.status != "pending"
        )
        return int(session.scalar(query) or 0)


def _drain(database: Database, after_id: int, count: int) -> float | None:
    """Seconds until this run's ``count`` inbox rows are processed, or None after the timeout."""
    started = time.perf_counter()
    while time.perf_counter() - started < DRAIN_TIMEOUT:
        if _processed_since(database, after_id) >= count:
            return round(time.perf_counter() - started, 3)
        time.sleep(0.05)  # a poll of the database, with a deadline
    return None


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
            backlog=2048,
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
    deadline = time.monotonic() + 20
    while not server.server.started:
        if time.monotonic() > deadline or not server.thread.is_alive():
            raise RuntimeError("bench server did not start")
        time.sleep(0.02)
    return server
