"""The HTTP middleware of ``qlink.asgi``: security headers, a request size limit, request logs.

Plain ASGI classes, outermost first in ``create_app``: one JSON log line and one metrics sample
per request, CSP and friends on every response, and 413 for a body over the limit.
"""

from __future__ import annotations

import json
import logging
import re
import time

from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from signage.metrics import RequestMetrics

log = logging.getLogger("qlink.http")
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
    (re.compile(r"^/me/"), "/me/{ref}"),
    (re.compile(r"^/api/v1/"), "/api/v1"),
    (re.compile(r"^/fhir/"), "/fhir"),
    (re.compile(r"^/book/static/"), "/book/static"),
    (re.compile(r"^/book/[^/]+/api/[a-z]+$"), "/book/{clinic}/api"),
    (re.compile(r"^/book/[^/]+$"), "/book/{clinic}"),
    (re.compile(r"^/webhooks/whatsapp/flows$"), "/webhooks/whatsapp/flows"),
    (re.compile(r"^/webhooks/whatsapp$"), "/webhooks/whatsapp"),
    (re.compile(r"^/(healthz|metrics)$"), None),
]


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
                if b"content-security-policy" in present:
                    # a page with its own CSP (the embeddable booking page) names who may frame
                    # it in frame-ancestors; X-Frame-Options has no value for "these origins"
                    present.add(b"x-frame-options")
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
    redacted = re.sub(r"^/(t|me)/[^/]+", r"/\1/…", path)  # signed links are credentials
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
