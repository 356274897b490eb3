"""The ASGI app: signage and webhook routes, health, metrics, security headers, limits, logs.

``create_app(settings)`` is the composition root of the HTTP service; it owns the database
engine and the signage stream service through its lifespan, and nothing happens at import.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import re
import signal
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import db.scoping  # noqa: F401  (tenant filter on every ORM query)
from core.clock import Clock, system_clock
from core.signage.feed import queue_depth
from db.engine import ALL_TENANTS, Database
from db.migrate import alembic_config
from qlink.settings import Settings
from signage import routes as signage_routes
from signage.hub import SignageService
from signage.metrics import RequestMetrics
from signage.pages import STATIC
from webhooks import routes as webhook_routes

log = logging.getLogger("qlink.http")
MAX_BODY_BYTES = 1024 * 1024  # WhatsApp webhooks are a few KiB; media never comes inline
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; media-src 'self'; font-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),  # token links must not leak via Referer
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")
_ROUTE_LABELS = [
    (re.compile(r"^/signage/[^/]+/events$"), "/signage/{branch}/events"),
    (re.compile(r"^/signage/[^/]+$"), "/signage/{branch}"),
    (re.compile(r"^/t/[^/]+/events$"), "/t/{ref}/events"),
    (re.compile(r"^/t/[^/]+$"), "/t/{ref}"),
    (re.compile(r"^/static/"), "/static"),
    (re.compile(r"^/webhooks/whatsapp/flows$"), "/webhooks/whatsapp/flows"),
    (re.compile(r"^/webhooks/whatsapp$"), "/webhooks/whatsapp"),
    (re.compile(r"^/(healthz|metrics)$"), None),
]


def create_app(
    settings: Settings,
    *,
    database: Database | None = None,
    clock: Clock = system_clock,
    poll_seconds: float | None = None,
    gap_timeout: float | None = None,
) -> Starlette:
    """Build the service; pass ``database`` to share an engine (tests, benchmarks)."""
    owned = database is None
    db = database or Database.from_url(settings.database_url)
    service = SignageService(db, clock=clock, poll_seconds=poll_seconds, gap_timeout=gap_timeout)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await service.start()
        restore = _end_streams_on_exit_signals(service)
        try:
            yield
        finally:
            restore()
            await service.stop()
            if owned:
                db.dispose()

    app = Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
            *signage_routes.routes,
            *webhook_routes.routes,
        ],
        middleware=[
            Middleware(ObservabilityMiddleware),
            Middleware(SecurityHeadersMiddleware),
            Middleware(BodyLimitMiddleware, max_bytes=MAX_BODY_BYTES),
        ],
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.database = db
    app.state.signage = service
    app.state.requests = RequestMetrics()
    app.state.migration_head = ScriptDirectory.from_config(
        alembic_config("sqlite://")
    ).get_current_head()
    return app


def _end_streams_on_exit_signals(service: SignageService) -> Callable[[], None]:
    """Chain onto the server's SIGINT/SIGTERM handlers so open SSE streams end at once.

    uvicorn waits for every open response before it shuts down; an SSE stream never ends by
    itself, so without this ``qlink serve`` would hang on Ctrl-C while a TV is connected.
    """
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    loop = asyncio.get_running_loop()
    previous: dict[int, Any] = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        handler = signal.getsignal(sig)
        if not callable(handler):
            continue
        previous[sig] = handler

        def chained(signum: int, frame: Any, _prev: Any = handler) -> None:
            loop.call_soon_threadsafe(service.end_streams)
            _prev(signum, frame)

        signal.signal(sig, chained)

    def restore() -> None:
        for sig, handler in previous.items():
            with contextlib.suppress(ValueError):
                signal.signal(sig, handler)

    return restore


async def healthz(request: Request) -> Response:
    """Ready when the database answers and its schema is at the newest migration."""
    db: Database = request.app.state.database
    head: str = request.app.state.migration_head
    try:
        current = await asyncio.to_thread(_revision, db)
    except Exception as exc:  # any failure to reach the database is "not ready"
        log.warning("healthz: database unreachable: %s", exc)
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, 503)
    body = {"status": "ok", "database": "ok", "migration": current, "head": head}
    if current != head:
        body["status"] = "migrations pending"
        return JSONResponse(body, 503)
    return JSONResponse(body)


def _revision(db: Database) -> str | None:
    with db.engine.connect() as conn:
        conn.execute(text("SELECT 1"))
        return MigrationContext.configure(conn).get_current_revision()


async def metrics(request: Request) -> Response:
    """Prometheus text: requests, latencies, open SSE streams, queue depth, event lag."""
    service: SignageService = request.app.state.signage
    lines = [*request.app.state.requests.lines(), *service.metrics.lines()]
    try:
        depth = await asyncio.to_thread(_depth, service)
        up = 1
    except Exception:  # metrics must still answer while the database is down
        depth, up = {}, 0
    lines += [
        "# HELP qlink_db_up Whether the database answered this scrape.",
        "# TYPE qlink_db_up gauge",
    ]
    lines.append(f"qlink_db_up {up}")
    lines += [
        "# HELP qlink_queue_depth Active tokens of today and yesterday by status.",
        "# TYPE qlink_queue_depth gauge",
    ]
    for status in ("waiting", "called", "in_consultation", "at_lab"):
        lines.append(f'qlink_queue_depth{{status="{status}"}} {depth.get(status, 0)}')
    return PlainTextResponse("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")


def _depth(service: SignageService) -> dict[str, int]:
    since = service.clock().date() - dt.timedelta(days=1)  # covers every timezone's "today"
    with service.database.transaction(ALL_TENANTS, readonly=True) as session:
        return queue_depth(session, since)


class SecurityHeadersMiddleware:
    """CSP, nosniff, frame and referrer policy on every response; HSTS behind TLS."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        tls = scope.get("scheme") == "https"

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(k, v) for k, v in SECURITY_HEADERS if k not in present]
                if tls:
                    headers.append(HSTS)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


class _TooLarge(Exception):
    pass


class BodyLimitMiddleware:
    """Refuse request bodies over ``max_bytes`` with 413 (declared or streamed)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length", b"0")
        if not declared.isdigit() or int(declared) > self.max_bytes:
            await PlainTextResponse("Request body too large", 413)(scope, receive, send)
            return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise _TooLarge
            return message

        async def tracking(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracking)
        except _TooLarge:
            if started:
                raise
            await PlainTextResponse("Request body too large", 413)(scope, receive, send)


class ObservabilityMiddleware:
    """One JSON log line and one metrics sample per request (signed refs redacted)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def timed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                _record(scope, status, time.perf_counter() - started)
            await send(message)

        try:
            await self.app(scope, receive, timed)
        except Exception:
            _record(scope, 500, time.perf_counter() - started)
            raise


def _record(scope: Scope, status: int, seconds: float) -> None:
    path = scope["path"]
    route = _route_label(path)
    requests: RequestMetrics | None = getattr(scope["app"].state, "requests", None)
    if requests is not None:
        requests.observe(scope["method"], route, status, seconds)
    redacted = re.sub(r"^/t/[^/]+", "/t/…", path)
    client = scope.get("client") or ("-", 0)
    log.info(
        json.dumps(
            {
                "event": "http",
                "method": scope["method"],
                "path": redacted,
                "route": route,
                "status": status,
                "ms": round(seconds * 1000, 1),
                "client": client[0],
            }
        )
    )


def _route_label(path: str) -> str:
    for pattern, label in _ROUTE_LABELS:
        if pattern.match(path):
            return label or path
    return "other"


def app_from_env() -> Starlette:
    """Factory for uvicorn worker processes (``--workers N``)."""
    return create_app(Settings.from_env())
