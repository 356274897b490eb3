"""``/api/v1``: availability and bookings for partners, one clinic per key, with CORS.

Every call: per-IP limit, key parsed, one transaction scoped to the key's clinic (authenticate,
per-key limit, one core call), JSON out. CORS headers only for an ``Origin`` the key's clinic
allows; a preflight is answered for origins some clinic allows (it carries no key).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from api.limits import PartnerLimiter
from api.models import (
    MAX_ID,
    AvailabilityOut,
    BookingIn,
    BookingOut,
    CancelIn,
    RescheduleIn,
    SlotOut,
)
from api.openapi import IDEMPOTENCY_KEY, openapi_document
from core.clock import Clock
from core.context import Actor
from core.errors import (
    AuthenticationFailed,
    Conflict,
    DomainError,
    NotFound,
    PermissionDenied,
    SlotTaken,
    ValidationFailed,
)
from core.partners import bookings
from core.partners.keys import (
    authenticate_key,
    clinic_origins,
    origin_known,
    parse_key,
    partner_actor,
)
from core.patients.phones import PhoneVault
from core.scheduling.slots import Slot
from db.engine import ALL_TENANTS, Database
from db.models import ApiClient

STATUS = {
    AuthenticationFailed: 401,
    PermissionDenied: 403,
    NotFound: 404,
    Conflict: 409,
    SlotTaken: 409,
    ValidationFailed: 422,
}
_KEY = re.compile(IDEMPOTENCY_KEY)
BOOKABLE = (dt.timedelta(days=-2), dt.timedelta(days=400))  # beyond: refused before core
ALLOW_HEADERS = "Authorization, Content-Type, Idempotency-Key"
Op = Callable[[Session, Actor, ApiClient], Any]


class _Limited(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after


@dataclass(frozen=True)
class _Done:
    value: Any
    origins: list[str]


class _Failed(Exception):
    """A rule refused the call after the key was known good (CORS headers still apply)."""

    def __init__(self, error: DomainError, origins: list[str]) -> None:
        super().__init__(error)
        self.error = error
        self.origins = origins


def _error(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {"error": {"code": code, "message": message, **extra}}
    return JSONResponse(body, status)


def domain_response(exc: DomainError) -> JSONResponse:
    status = next((s for kind, s in STATUS.items() if isinstance(exc, kind)), 422)
    field = getattr(exc, "field", None)
    response = _error(status, exc.code, exc.message, **({"field": field} if field else {}))
    if isinstance(exc, SlotTaken):
        body = {
            "error": {"code": exc.code, "message": exc.message},
            "alternatives": [_slot(s).model_dump(mode="json") for s in exc.alternatives],
        }
        response = JSONResponse(body, 409)
    return response


def _slot(slot: Slot) -> SlotOut:
    return SlotOut(
        start=slot.start, end=slot.end, local_start=slot.label, seats_left=slot.seats_left
    )


def _booking(view: bookings.BookingView) -> BookingOut:
    data = asdict(view)
    data["id"] = data.pop("appointment_id")
    return BookingOut(**data)


def _cors(response: Response, origin: str | None, allowed: list[str]) -> Response:
    if origin and origin in allowed:
        response.headers["access-control-allow-origin"] = origin
        response.headers["access-control-expose-headers"] = "Retry-After, Idempotency-Replayed"
    response.headers["vary"] = "Origin"
    return response


async def call(
    request: Request, op: Op, *, readonly: bool = False, media_type: str = "application/json"
) -> Response:
    """Run ``op`` for the request's key inside one transaction; translate errors to JSON."""
    state = request.app.state
    limiter: PartnerLimiter = state.partner_limiter
    origin = request.headers.get("origin")
    wait = limiter.hit_ip(request.client.host if request.client else "unknown")
    if wait is not None:
        return _too_many(wait)
    auth = request.headers.get("authorization", "")
    scheme, _, key = auth.partition(" ")
    try:
        ref = parse_key(key.strip() if scheme.lower() == "bearer" else "")
        done = await asyncio.to_thread(
            _run, state.database, state.clock, limiter, ref.tenant_id, ref, op, readonly
        )
    except _Limited as exc:
        return _too_many(exc.retry_after)
    except _Failed as exc:
        return _cors(domain_response(exc.error), origin, exc.origins)
    except DomainError as exc:  # before the key was known good: no CORS
        return domain_response(exc)
    status, value = done.value if isinstance(done.value, tuple) else (200, done.value)
    body = value.model_dump(mode="json") if isinstance(value, BaseModel) else value
    response = JSONResponse(body, status, media_type=media_type)
    return _cors(response, origin, done.origins)


def _run(
    db: Database,
    clock: Clock,
    limiter: PartnerLimiter,
    tenant_id: int,
    ref: Any,
    op: Op,
    readonly: bool,
) -> _Done:
    with db.transaction(tenant_id, readonly=readonly) as session:
        client = authenticate_key(session, ref)
        wait = limiter.hit_key(client.id)
        if wait is not None:
            raise _Limited(wait)
        origins = clinic_origins(session, tenant_id)
        try:
            value = op(session, partner_actor(client, clock=clock), client)
        except DomainError as exc:
            raise _Failed(exc, origins) from exc
        return _Done(value, origins)


def _too_many(wait: int) -> JSONResponse:
    response = _error(429, "rate_limited", f"Too many requests; retry in {wait} s")
    response.headers["retry-after"] = str(wait)
    return response


async def _parse(request: Request, model: type[BaseModel]) -> Any:
    try:
        return model.model_validate_json(await request.body())
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise ValidationFailed(f"{where}: {first['msg']}", field=where) from exc


def _int(raw: str | None, name: str) -> int:
    if raw is None or not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_ID:
        raise ValidationFailed(f"{name} must be a positive integer", field=name)
    return int(raw)


def _bookable(when: dt.datetime, now: dt.datetime, name: str) -> dt.datetime:
    if not now + BOOKABLE[0] <= when <= now + BOOKABLE[1]:
        raise ValidationFailed(f"{name} is outside the bookable range", field=name)
    return when


async def availability(request: Request) -> Response:
    """GET /api/v1/slots/availability?doctor_id=&branch_id=&date=YYYY-MM-DD"""
    try:
        q = request.query_params
        doctor_id = _int(q.get("doctor_id"), "doctor_id")
        branch_id = _int(q.get("branch_id"), "branch_id")
        on_date = _date(q.get("date"))
    except DomainError as exc:
        return domain_response(exc)

    def op(session: Session, actor: Actor, _client: ApiClient) -> AvailabilityOut:
        slots = bookings.partner_availability(
            session, actor, doctor_id=doctor_id, on_date=on_date, branch_id=branch_id
        )
        return AvailabilityOut(
            doctor_id=doctor_id,
            branch_id=branch_id,
            date=on_date,
            slots=[_slot(s) for s in slots],
        )

    return await call(request, op, readonly=True)


def _date(raw: str | None) -> dt.date:
    try:
        return dt.date.fromisoformat(raw or "")
    except ValueError as exc:
        raise ValidationFailed("date must be YYYY-MM-DD", field="date") from exc


async def create_booking(request: Request) -> Response:
    """POST /api/v1/bookings with an Idempotency-Key header."""
    key = request.headers.get("idempotency-key", "")
    try:
        if not _KEY.match(key):
            raise ValidationFailed("Send an Idempotency-Key header (1-80 of A-Z a-z 0-9 _ . : -)")
        body: BookingIn = await _parse(request, BookingIn)
    except DomainError as exc:
        return domain_response(exc)
    digest = hashlib.sha256(body.model_dump_json().encode()).hexdigest()
    vault = PhoneVault(request.app.state.settings.data_key)

    def op(session: Session, actor: Actor, client: ApiClient) -> tuple[int, BookingOut]:
        ask = bookings.BookingAsk(
            client_id=client.id,
            idempotency_key=key,
            body_sha256=digest,
            doctor_id=body.doctor_id,
            slot_start=_bookable(body.slot_start, actor.clock(), "slot_start"),
            patient=bookings.PatientDetails(
                body.patient.name, body.patient.phone, body.patient.age
            ),
            branch_id=body.branch_id,
            visit_type=body.visit_type,
        )
        view, replayed = bookings.book_for_partner(session, actor, ask=ask, vault=vault)
        return (200 if replayed else 201), _booking(view)

    response = await call(request, op)
    if response.status_code == 200:
        response.headers["idempotency-replayed"] = "true"
    return response


async def get_booking(request: Request) -> Response:
    """GET /api/v1/bookings/{booking_id}"""
    try:
        booking_id = _int(request.path_params["booking_id"], "booking_id")
    except DomainError as exc:
        return domain_response(exc)

    def op(session: Session, actor: Actor, client: ApiClient) -> BookingOut:
        view = bookings.partner_booking(
            session, actor, client_id=client.id, appointment_id=booking_id
        )
        return _booking(view)

    return await call(request, op, readonly=True)


async def cancel_booking(request: Request) -> Response:
    """POST /api/v1/bookings/{booking_id}/cancel"""
    try:
        booking_id = _int(request.path_params["booking_id"], "booking_id")
        body: CancelIn = await _parse(request, CancelIn)
    except DomainError as exc:
        return domain_response(exc)

    def op(session: Session, actor: Actor, client: ApiClient) -> BookingOut:
        view = bookings.cancel_partner_booking(
            session, actor, client_id=client.id, appointment_id=booking_id, reason=body.reason
        )
        return _booking(view)

    return await call(request, op)


async def reschedule_booking(request: Request) -> Response:
    """POST /api/v1/bookings/{booking_id}/reschedule"""
    try:
        booking_id = _int(request.path_params["booking_id"], "booking_id")
        body: RescheduleIn = await _parse(request, RescheduleIn)
    except DomainError as exc:
        return domain_response(exc)

    def op(session: Session, actor: Actor, client: ApiClient) -> BookingOut:
        view = bookings.reschedule_partner_booking(
            session,
            actor,
            client_id=client.id,
            appointment_id=booking_id,
            new_slot_start=_bookable(body.slot_start, actor.clock(), "slot_start"),
        )
        return _booking(view)

    return await call(request, op)


async def openapi(_request: Request) -> Response:
    """GET /api/v1/openapi.json"""
    return JSONResponse(openapi_document())


async def preflight(request: Request) -> Response:
    """OPTIONS on any API path: allowed only for an origin some clinic lists."""
    origin = request.headers.get("origin", "")
    db: Database = request.app.state.database

    def known() -> bool:
        with db.transaction(ALL_TENANTS, readonly=True) as session:
            return origin_known(session, origin)

    if not origin or not await asyncio.to_thread(known):
        return Response(status_code=403, headers={"vary": "Origin"})
    return Response(
        status_code=204,
        headers={
            "access-control-allow-origin": origin,
            "access-control-allow-methods": "GET, POST",
            "access-control-allow-headers": ALLOW_HEADERS,
            "access-control-max-age": "600",
            "vary": "Origin",
        },
    )


routes = [
    Route("/api/v1/openapi.json", openapi, methods=["GET"]),
    Route("/api/v1/slots/availability", availability, methods=["GET"]),
    Route("/api/v1/bookings", create_booking, methods=["POST"]),
    Route("/api/v1/bookings/{booking_id}", get_booking, methods=["GET"]),
    Route("/api/v1/bookings/{booking_id}/cancel", cancel_booking, methods=["POST"]),
    Route("/api/v1/bookings/{booking_id}/reschedule", reschedule_booking, methods=["POST"]),
    Route("/api/v1/{path:path}", preflight, methods=["OPTIONS"]),
]
