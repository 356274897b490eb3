"""The ASGI app: signage and webhook routes, health, metrics, security headers, limits, logs.

``create_app(settings)`` is the composition root of the HTTP service; it owns the database
engine and the signage stream service through its lifespan, and nothing happens at import.
The middleware (security headers, body limit, request logs) lives in ``qlink.middleware``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import logging
import os
import signal
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, text
from sqlalchemy.exc import OperationalError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from api import fhir as api_fhir
from api import self_service as api_self_service
from api import v1 as api_v1
from api.limits import PartnerLimiter
from core.clock import Clock, system_clock
from core.messaging.inbound import Handler
from core.messaging.inbound_limits import InboundLimiter
from core.patients.phones import PhoneVault
from core.signage.feed import queue_depth
from core.system_health import HealthFigures, platform_health
from db.engine import ALL_TENANTS, Database
from db.migrate import alembic_config
from db.models.queue import ACTIVE_TOKEN_STATUSES
from qlink import conversation
from qlink.keys import check_data_key
from qlink.middleware import BodyLimitMiddleware, ObservabilityMiddleware, SecurityHeadersMiddleware
from qlink.settings import Settings
from signage import routes as signage_routes
from signage.metrics import MULTIPROC_ENV, DatabaseCollector, HealthCollector, ServiceMetrics
from signage.pages import STATIC
from signage.service import SignageService
from webhooks import routes as webhook_routes
from webhooks import simulator
from webhooks.booking import routes as booking_routes
from webhooks.inbox import WhatsAppInbox
from workers.inbox_queue import redis_enqueuer
from workers.outbox import BackgroundRelay
from workers.projector import Projector
from workers.ticker import BackgroundTicker

log = logging.getLogger("qlink.http")
MAX_BODY_BYTES = 1024 * 1024  # WhatsApp webhooks are a few KiB; media never comes inline


def create_app(
    settings: Settings,
    *,
    database: Database | None = None,
    clock: Clock = system_clock,
    poll_seconds: float | None = None,
    gap_timeout: float | None = None,
    inbound_handler: Handler | None = None,
) -> Starlette:
    """Build the service; pass ``database`` to share an engine (tests, benchmarks)."""
    owned = database is None
    db = database or Database.from_url(settings.database_url)
    app_metrics = ServiceMetrics(
        DatabaseCollector(functools.partial(_depth, db, clock), ACTIVE_TOKEN_STATUSES),
        multiprocess_dir=os.environ.get(MULTIPROC_ENV),  # prometheus_client's own switch
        health=HealthCollector(functools.partial(_health, db, clock)),
    )
    service = SignageService(
        db,
        clock=clock,
        poll_seconds=poll_seconds,
        gap_timeout=gap_timeout,
        metrics=app_metrics.streams,
    )
    whatsapp = WhatsAppInbox(
        db,
        app_secret=settings.whatsapp_app_secret,
        vault=PhoneVault(settings.data_key),
        limiter=InboundLimiter(settings.redis_url),
        handler=inbound_handler or conversation.inbound_handler(settings),
        clock=clock,
        # With Redis, `qlink worker` processes share the deliveries; without, two threads here.
        enqueue=redis_enqueuer(settings.redis_url) if settings.redis_url else None,
    )

    # Without Redis there is no `qlink worker` to send WhatsApp messages: the relay runs here.
    relay = (
        BackgroundRelay.for_settings(settings, db)
        if settings.outbound_whatsapp and not settings.redis_url
        else None
    )
    # Stored ETAs are re-projected after commit on a thread (a database passed in by a test
    # keeps its own choice: without a projector the queue re-projects inline).
    projector = Projector(db, background=True) if owned else None
    # Reminders, offers, feeds, retention when embedded; with a projector, the sweep that
    # re-projects departments whose projection a dead process lost (claimed in Redis if set).
    ticker = (
        BackgroundTicker(
            db,
            clock,
            messages=relay is not None,
            projections=projector is not None,
            redis_url=settings.redis_url,
        )
        if relay is not None or projector is not None
        else None
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:  # before serving, so blocking the loop for two queries delays no request
            _check_key(db, settings)
        except BaseException:  # a foreign data key: the service does not start
            if owned:
                db.dispose()
            raise
        app_metrics.worker_started()
        untime = _time_statements(db, app_metrics.database_time.observe)
        await service.start()
        await whatsapp.start()
        if relay is not None:  # embedded: one command answers patients
            relay.start()
        if ticker is not None:
            ticker.start()
        if projector is not None:
            projector.install()
        restore = _end_streams_on_exit_signals(service)
        try:
            yield
        finally:
            restore()
            await service.stop()
            await whatsapp.stop()
            if relay is not None:
                await asyncio.to_thread(relay.stop)
            if ticker is not None:
                await asyncio.to_thread(ticker.stop)
            if projector is not None:
                await asyncio.to_thread(projector.uninstall)
            app_metrics.worker_stopped()
            untime()
            if owned:
                db.dispose()

    app = Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
            *signage_routes.routes,
            *webhook_routes.routes,
            *booking_routes.routes,  # the public booking page, /book/{clinic}
            *api_v1.routes,
            *api_fhir.routes,
            *api_self_service.routes,
            *simulator.routes_for(settings),  # only when enabled (qlink demo)
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
    app.state.whatsapp = whatsapp
    app.state.relay = relay
    app.state.clock = clock
    app.state.partner_limiter = PartnerLimiter(settings.redis_url)
    app.state.metrics = app_metrics
    app.state.requests = app_metrics.requests
    app.state.migration_head = ScriptDirectory.from_config(
        alembic_config("sqlite://")
    ).get_current_head()
    return app


def _check_key(db: Database, settings: Settings) -> None:
    """Refuse to serve with a foreign data key; an unreachable database is healthz's to report."""
    try:
        check_data_key(db, settings)
    except OperationalError as exc:
        log.warning("data key not checked: database unreachable: %s", exc)


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
    service_metrics: ServiceMetrics = request.app.state.metrics
    # The scrape reads the database (queue depth), so it runs off the event loop.
    body, content_type = await asyncio.to_thread(
        service_metrics.exposition, request.headers.get("accept")
    )
    return Response(body, media_type=content_type)


def _depth(db: Database, clock: Clock) -> dict[str, int]:
    since = clock().date() - dt.timedelta(days=1)  # covers every timezone's "today"
    with db.transaction(ALL_TENANTS, readonly=True) as session:
        return queue_depth(session, since)


def _health(db: Database, clock: Clock) -> HealthFigures:
    with db.transaction(ALL_TENANTS, readonly=True) as session:
        return platform_health(session, now=clock())


def _time_statements(db: Database, observe: Callable[[float], None]) -> Callable[[], None]:
    """Observe every statement's duration on the service's engine (SQLAlchemy cursor events).

    Returns the function that stops observing (the lifespan calls it at shutdown).
    """

    def before(conn: Any, *_: Any) -> None:
        conn.info.setdefault("qlink_started", []).append(time.perf_counter())

    def after(conn: Any, *_: Any) -> None:
        started = conn.info.get("qlink_started")
        if started:
            observe(time.perf_counter() - started.pop())

    event.listen(db.engine, "before_cursor_execute", before)
    event.listen(db.engine, "after_cursor_execute", after)

    def stop() -> None:
        event.remove(db.engine, "before_cursor_execute", before)
        event.remove(db.engine, "after_cursor_execute", after)

    return stop


def app_from_env() -> Starlette:
    """Factory for uvicorn worker processes (``--workers N``)."""
    return create_app(Settings.from_env())
