"""Public booking page and its small JSON endpoints under ``/book/{clinic}``.

The page is plain HTML/CSS/JS (``static/``), embeddable in the clinic's website by an
``<iframe>`` or the ``embed.js`` snippet: its CSP names the clinic's configured origins in
``frame-ancestors`` (nothing else may frame it). Each JSON call is one transaction scoped to the
clinic the slug names; the rules are core's (``core.scheduling.web_booking`` and
``web_requests``). Limits per client IP (the ``limits`` library): 60 calls a minute, and 5
WhatsApp codes a minute (a phone has its own limits in core). Errors are JSON
``{"error": {"code", "message", "field"?}}``; a taken slot answers 409 with ``alternatives``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import html
import math
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from limits import parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from core.errors import DomainError, NotFound, SlotTaken, ValidationFailed
from core.patients.phones import PhoneVault
from core.scheduling import web_booking, web_requests
from core.scheduling.slots import Slot
from db.engine import ALL_TENANTS, Database
from webhooks.booking.page_texts import PAGE_TEXTS

HERE = Path(__file__).parent
STATIC = HERE / "static"
PER_IP = "60/minute"
CODES_PER_IP = "5/minute"
NO_STORE = {"Cache-Control": "no-store"}
PAGE_LANGUAGES = ("en", "hi")  # the one-time code template's languages (seeded in both)
T = TypeVar("T")


class BookingLimiter:
    """Moving-window limits per client IP; ``hit`` returns seconds to wait, or None."""

    def __init__(
        self, storage_url: str | None = None, *, per_ip: str = PER_IP, codes: str = CODES_PER_IP
    ) -> None:
        self._limiter = MovingWindowRateLimiter(storage_from_string(storage_url or "memory://"))
        self._items = {"call": parse(per_ip), "code": parse(codes)}

    def hit(self, kind: str, address: str) -> int | None:
        item = self._items[kind]
        if self._limiter.hit(item, "book", kind, address):
            return None
        reset = self._limiter.get_window_stats(item, "book", kind, address).reset_time
        return max(1, math.ceil(reset - time.time()))


def _limiter(request: Request) -> BookingLimiter:
    limiter = getattr(request.app.state, "booking_limiter", None)
    if limiter is None:
        settings = request.app.state.settings
        limiter = BookingLimiter(getattr(settings, "redis_url", None))
        request.app.state.booking_limiter = limiter
    return limiter


def _vault(request: Request) -> PhoneVault:
    vault = getattr(request.app.state, "booking_vault", None)
    if vault is None:
        vault = PhoneVault(request.app.state.settings.data_key)
        request.app.state.booking_vault = vault
    return vault


def _now(request: Request) -> dt.datetime:
    now: dt.datetime = request.app.state.clock()
    return now


def _ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _error(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message, **extra}}, status, headers=NO_STORE
    )


def _domain(exc: DomainError) -> JSONResponse:
    if isinstance(exc, NotFound):
        return _error(404, exc.code, exc.message)
    if isinstance(exc, SlotTaken):
        return _error(409, exc.code, exc.message, alternatives=[_slot(s) for s in exc.alternatives])
    if isinstance(exc, web_booking.TooManyCodes):
        response = _error(429, exc.code, exc.message, retry_after=exc.retry_after)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    if isinstance(exc, ValidationFailed):
        return _error(422, exc.code, exc.message, field=exc.field)
    if isinstance(exc, web_booking.TicketInvalid):
        return _error(401, exc.code, exc.message)
    return _error(409, exc.code, exc.message)


def _slot(slot: Slot) -> dict[str, Any]:
    return {
        "start": slot.start.isoformat(),
        "local": slot.local_start.isoformat(),
        "label": slot.label,
        "seats_left": slot.seats_left,
    }


_CLINICS: dict[tuple[int, str], tuple[float, web_booking.PublicClinic]] = {}
CLINIC_TTL = 10.0  # seconds a slug's clinic (name, origins) is reused without a lookup


def _clinic(db: Database, slug: str) -> web_booking.PublicClinic:
    """The clinic a slug names, cached for ``CLINIC_TTL`` per database (a settings change, e.g.
    new embed origins, shows within seconds)."""
    key = (id(db), slug)
    hit = _CLINICS.get(key)
    if hit is not None and time.monotonic() - hit[0] < CLINIC_TTL:
        return hit[1]
    with db.transaction(ALL_TENANTS, readonly=True) as session:
        clinic = web_booking.public_clinic(session, slug)
    if len(_CLINICS) > 1000:
        _CLINICS.clear()
    _CLINICS[key] = (time.monotonic(), clinic)
    return clinic


async def _run(
    request: Request, op: Callable[[Session, web_booking.PublicClinic], T], *, readonly: bool
) -> T:
    db: Database = request.app.state.database

    def work() -> T:
        clinic = _clinic(db, request.path_params["clinic"])
        with db.transaction(clinic.tenant_id, readonly=readonly) as session:
            return op(session, clinic)

    return await asyncio.to_thread(work)


async def _json(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError as exc:
        raise ValidationFailed("Send a JSON object") from exc
    if not isinstance(body, dict):
        raise ValidationFailed("Send a JSON object")
    return body


def _int(value: Any, field: str, *, required: bool = True) -> int | None:
    if value is None or value == "":
        if required:
            raise ValidationFailed(f"{field.capitalize()} is required", field=field)
        return None
    if isinstance(value, bool) or not str(value).isdigit() or len(str(value)) > 12:
        raise ValidationFailed(f"{field.capitalize()} must be a whole number", field=field)
    return int(value)


def _text(value: Any, field: str, limit: int = 200) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise ValidationFailed(f"{field.capitalize()} is required", field=field)
    return value


def _date(value: Any) -> dt.date:
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as exc:
        raise ValidationFailed("Pick a date (YYYY-MM-DD)", field="date") from exc


def _instant(value: Any) -> dt.datetime:
    try:
        when = dt.datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise ValidationFailed("Pick a slot", field="slot") from exc
    if when.tzinfo is None:
        raise ValidationFailed("Pick a slot", field="slot")
    return when


async def _guarded(request: Request, kind: str, handler: Callable[[], Any]) -> Response:
    limiter = _limiter(request)
    for name in ("call", kind) if kind != "call" else ("call",):
        wait = limiter.hit(name, _ip(request))
        if wait is not None:
            response = _error(429, "rate_limited", "Too many requests; try again shortly")
            response.headers["Retry-After"] = str(wait)
            return response
    try:
        result = await handler()
    except DomainError as exc:
        return _domain(exc)
    if isinstance(result, Response):
        return result
    return JSONResponse(result, headers=NO_STORE)


# --- the page -----------------------------------------------------------------------------


def _csp(origins: tuple[str, ...]) -> str:
    ancestors = " ".join(("'self'", *origins))
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
        f"frame-ancestors {ancestors}"
    )


async def page(request: Request) -> Response:
    db: Database = request.app.state.database
    lang = _language(request.query_params.get("lang"))
    links = _language_links(request)
    try:
        clinic = await asyncio.to_thread(_clinic, db, request.path_params["clinic"])
    except NotFound:
        missing = PAGE_TEXTS[lang]["not_found"]
        return HTMLResponse(_page_html(missing, "", lang, links), 404, headers=NO_STORE)
    headers = {**NO_STORE, "Content-Security-Policy": _csp(clinic.origins)}
    return HTMLResponse(_page_html(clinic.name, clinic.slug, lang, links), headers=headers)


_TEXT_SLOT = re.compile(r"\{\{t:([a-z_.]+)\}\}")


def _page_html(name: str, slug: str, lang: str = "en", links: dict[str, str] | None = None) -> str:
    """``book.html`` in ``lang``: its ``{{t:key}}`` texts from ``PAGE_TEXTS``, the language
    switch's links (``links``: language -> URL), the clinic's name and slug."""
    template = (HERE / "templates" / "book.html").read_text(encoding="utf-8")
    texts = PAGE_TEXTS[lang]
    page = _TEXT_SLOT.sub(lambda m: html.escape(texts[m.group(1)]), template)
    for code in PAGE_LANGUAGES:
        href = (links or {}).get(code, f"?lang={code}")
        page = page.replace("{{href_" + code + "}}", html.escape(href, quote=True))
        page = page.replace(
            "{{current_" + code + "}}", ' aria-current="true"' if code == lang else ""
        )
    return (
        page.replace("{{lang}}", lang)
        .replace("{{clinic_slug}}", html.escape(slug, quote=True))
        .replace("{{clinic_name}}", html.escape(name))  # last: a name is never read as a slot
    )


def _language_links(request: Request) -> dict[str, str]:
    """The page's own address in each language, keeping its other parameters (the branch)."""
    kept = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
    return {
        code: f"{request.url.path}?{urlencode([*kept, ('lang', code)])}" for code in PAGE_LANGUAGES
    }


def _language(value: Any) -> str:
    """The page's language (``?lang=`` on the page, ``lang`` in the code request): en or hi."""
    return value if value in PAGE_LANGUAGES else "en"


# --- JSON endpoints ---------------------------------------------------------------------------


async def directory(request: Request) -> Response:
    async def handler() -> dict[str, Any]:
        d = await _run(
            request, lambda s, c: web_booking.public_directory(s, c.tenant_id), readonly=True
        )
        now = _now(request)
        return {
            "clinic": {"name": d.clinic.name, "slug": d.clinic.slug},
            "branches": [
                {
                    "id": b.id,
                    "name": b.name,
                    "address": b.address,
                    "mode": b.mode,
                    # the branch's date: a browser elsewhere (or at midnight) must not offer
                    # yesterday, which the slots endpoint refuses
                    "today": now.astimezone(ZoneInfo(b.timezone)).date().isoformat(),
                }
                for b in d.branches
            ],
            "specialties": [
                {"id": s.department_id, "branch_id": s.branch_id, "name": s.name}
                for s in d.specialties
            ],
            "doctors": [
                {
                    "id": x.id,
                    "name": x.name,
                    "specialization": x.specialization,
                    "qualification": x.qualification,
                    "specialty_id": x.department_id,
                    "branch_ids": list(x.branch_ids),
                    "fee": x.fee_minor / 100,
                }
                for x in d.doctors
            ],
        }

    return await _guarded(request, "call", handler)


async def slots(request: Request) -> Response:
    async def handler() -> dict[str, Any]:
        q = request.query_params
        branch_id = _int(q.get("branch"), "branch")
        doctor_id = _int(q.get("doctor"), "doctor")
        on_date = _date(q.get("date"))
        now = _now(request)
        found = await _run(
            request,
            lambda s, c: web_booking.public_slots(
                s,
                c.tenant_id,
                doctor_id=doctor_id or 0,
                branch_id=branch_id or 0,
                on_date=on_date,
                now=now,
            ),
            readonly=True,
        )
        return {"date": on_date.isoformat(), "slots": [_slot(x) for x in found]}

    return await _guarded(request, "call", handler)


async def send_code(request: Request) -> Response:
    async def handler() -> dict[str, Any]:
        body = await _json(request)
        phone = _text(body.get("phone"), "phone", 40)
        branch_id = _int(body.get("branch"), "branch", required=False)
        language = _language(body.get("lang"))  # the page's; the code falls back to English
        now, vault = _now(request), _vault(request)
        sent = await _run(
            request,
            lambda s, c: web_booking.issue_code(
                s,
                c.tenant_id,
                phone=phone,
                vault=vault,
                now=now,
                branch_id=branch_id,
                language=language,
            ),
            readonly=False,
        )
        return {
            "sent_to": sent.masked_phone,
            "expires_at": sent.expires_at.isoformat(),
            "resend_after": sent.resend_after.isoformat(),
        }

    return await _guarded(request, "code", handler)


async def verify(request: Request) -> Response:
    async def handler() -> Any:
        body = await _json(request)
        phone = _text(body.get("phone"), "phone", 40)
        code = _text(body.get("code"), "code", 12)
        now, vault = _now(request), _vault(request)
        check = await _run(
            request,
            lambda s, c: web_booking.verify_code(
                s, c.tenant_id, phone=phone, code=code, vault=vault, now=now
            ),
            readonly=False,
        )  # a wrong try is committed (counted) before the refusal goes out
        if not check.ok:
            return _error(
                422,
                "wrong_code",
                check.reason or "Wrong code",
                field="code",
                attempts_left=check.attempts_left,
            )
        return {"ticket": check.ticket}

    return await _guarded(request, "call", handler)


async def book(request: Request) -> Response:
    async def handler() -> dict[str, Any]:
        body = await _json(request)
        fields = _person(body)
        doctor_id = _int(body.get("doctor"), "doctor") or 0
        branch_id = _int(body.get("branch"), "branch") or 0
        slot_start = _instant(body.get("slot"))
        language = _language(body.get("lang"))  # a new patient's, so their confirmation's
        now, vault = _now(request), _vault(request)
        done = await _run(
            request,
            lambda s, c: web_booking.book_online(
                s,
                c.tenant_id,
                doctor_id=doctor_id,
                branch_id=branch_id,
                slot_start=slot_start,
                vault=vault,
                now=now,
                language=language,
                **fields,
            ),
            readonly=False,
        )
        return {
            "appointment_id": done.appointment_id,
            "doctor": done.doctor_name,
            "branch": done.branch_name,
            "start": done.slot_start.isoformat(),
            "local": done.local_start.isoformat(),
        }

    return await _guarded(request, "call", handler)


async def request_visit(request: Request) -> Response:
    async def handler() -> dict[str, Any]:
        body = await _json(request)
        fields = _person(body)
        branch_id = _int(body.get("branch"), "branch") or 0
        department_id = _int(body.get("specialty"), "specialty", required=False)
        doctor_id = _int(body.get("doctor"), "doctor", required=False)
        preferred = _date(body.get("date"))
        window = _text(body.get("window"), "window", 20)
        language = _language(body.get("lang"))  # the desk's answer goes out in it
        now, vault = _now(request), _vault(request)
        row = await _run(
            request,
            lambda s, c: web_requests.request_booking(
                s,
                c.tenant_id,
                branch_id=branch_id,
                department_id=department_id,
                doctor_id=doctor_id,
                preferred_date=preferred,
                window=window,
                vault=vault,
                now=now,
                language=language,
                **fields,
            ),
            readonly=False,
        )
        return {"request_id": row.id, "status": row.status, "date": preferred.isoformat()}

    return await _guarded(request, "call", handler)


def _person(body: dict[str, Any]) -> dict[str, Any]:
    age = _int(body.get("age"), "age", required=False)
    return {
        "ticket": _text(body.get("ticket"), "ticket", 100),
        "phone": _text(body.get("phone"), "phone", 40),
        "full_name": _text(body.get("name"), "name"),
        "age_years": age,
    }


routes: list[BaseRoute] = [
    Mount("/book/static", StaticFiles(directory=STATIC), name="booking-static"),
    Route("/book/{clinic}", page, methods=["GET"]),
    Route("/book/{clinic}/api/directory", directory, methods=["GET"]),
    Route("/book/{clinic}/api/slots", slots, methods=["GET"]),
    Route("/book/{clinic}/api/code", send_code, methods=["POST"]),
    Route("/book/{clinic}/api/verify", verify, methods=["POST"]),
    Route("/book/{clinic}/api/book", book, methods=["POST"]),
    Route("/book/{clinic}/api/request", request_visit, methods=["POST"]),
]
