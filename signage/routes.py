"""Thin Starlette routes: resolve the URL, call one core read, render or stream."""

from __future__ import annotations

from collections.abc import AsyncIterator
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from core.errors import NotFound
from core.signage.board import departments
from core.signage.branches import BranchRef, branch_ref, resolve_branch
from core.signage.links import LinkExpired, LinkInvalid, TokenRef, verify_token_ref
from core.signage.token_view import TokenView, token_view
from core.signage.welcome import WhatsAppContact, whatsapp_contact
from db.engine import ALL_TENANTS
from signage import sse
from signage.hub import Subscriber, TokenWatcher
from signage.pages import problem, qr_data_uri, render
from signage.service import SignageService

SSE_HEADERS = {
    "Cache-Control": "no-store, no-transform",
    "X-Accel-Buffering": "no",  # nginx: do not buffer the stream
}
MAX_CODES = 12


def _service(request: Request) -> SignageService:
    service: SignageService = request.app.state.signage
    return service


def _codes(request: Request) -> tuple[str, ...]:
    raw = ",".join(request.query_params.getlist("dept"))
    codes = {c.strip().upper() for c in raw.split(",") if c.strip()}
    return tuple(sorted(codes))[:MAX_CODES]


def _last_event_id(request: Request) -> int | None:
    raw = request.headers.get("last-event-id") or request.query_params.get("last_event_id")
    return int(raw) if raw and raw.isdigit() and len(raw) < 19 else None


def _screen(
    service: SignageService, ref: str, codes: tuple[str, ...]
) -> tuple[BranchRef, frozenset[int] | None]:
    """Resolve the branch (platform scope), then its departments in the tenant's scope."""
    with service.database.transaction(ALL_TENANTS, readonly=True) as session:
        branch = resolve_branch(session, ref)
    if not codes:
        return branch, None
    with service.read(branch.tenant_id) as (session, _actor):
        found = departments(session, branch, codes)
    if len(found) != len(codes):
        missing = sorted(set(codes) - {d.code for d in found})
        raise NotFound(f"Branch {branch.name} has no department {', '.join(missing)}")
    return branch, frozenset(d.id for d in found)


async def tv_page(request: Request) -> Response:
    ref = request.path_params["branch"]
    codes = _codes(request)
    service = _service(request)
    try:
        branch, _ = await service.off_loop(_screen, service, ref, codes)
    except NotFound as exc:
        return problem(404, "Screen not found", exc.message)
    contact = await service.off_loop(_whatsapp, service, branch)
    query = f"?dept={','.join(codes)}" if codes else ""
    return render(
        "tv.html",
        lang=branch.language,
        stream=f"/signage/{ref}/events{query}",
        timezone=branch.timezone,
        clinic_name=branch.clinic_name,
        branch_name=branch.name,
        filter_label=" · ".join(codes),
        whatsapp_class="" if contact else "absent",
        whatsapp_number=contact.number if contact else "",
        whatsapp_qr=qr_data_uri(contact.link) if contact else "",
    )


def _whatsapp(service: SignageService, branch: BranchRef) -> WhatsAppContact | None:
    with service.read(branch.tenant_id) as (session, actor):
        return whatsapp_contact(session, actor, branch)


async def tv_events(request: Request) -> Response:
    service = _service(request)
    codes = _codes(request)
    try:
        branch, dept_ids = await service.off_loop(
            _screen, service, request.path_params["branch"], codes
        )
    except NotFound as exc:
        return PlainTextResponse(exc.message, status_code=404)
    sub = Subscriber(dept_ids, codes)
    stream = _screen_stream(service, branch, sub, _last_event_id(request))
    return StreamingResponse(stream, media_type="text/event-stream", headers=SSE_HEADERS)


async def _screen_stream(
    service: SignageService, branch: BranchRef, sub: Subscriber, last_event_id: int | None
) -> AsyncIterator[bytes]:
    yield sse.preamble()
    hub = await service.subscribe(branch, sub, last_event_id)
    try:
        while True:
            item = await sub.queue.get()
            if item is None:
                return
            chunk = [item]
            while not sub.queue.empty() and len(chunk) < 64:
                more = sub.queue.get_nowait()
                if more is None:
                    yield b"".join(chunk)
                    return
                chunk.append(more)
            yield b"".join(chunk)
    finally:
        service.unsubscribe(hub, sub)


def _verified(request: Request) -> TokenRef:
    service = _service(request)
    secret = request.app.state.settings.secret_key
    return verify_token_ref(secret, request.path_params["ref"], now=service.clock())


def _view(service: SignageService, ref: TokenRef) -> TokenView:
    with service.read(ref.tenant_id) as (session, actor):
        return token_view(session, actor, token_id=ref.token_id)


async def token_page(request: Request) -> Response:
    service = _service(request)
    try:
        ref = _verified(request)
        view = await service.off_loop(_view, service, ref)
    except LinkExpired:
        return problem(403, "This link has expired", "Token links work on the day of the visit.")
    except LinkInvalid:
        return problem(403, "This link is not valid", "Please open the link from your message.")
    except NotFound:
        return problem(404, "Token not found", "We could not find this token.")
    texts = token_texts(view)
    return render(
        "token.html",
        stream=f"/t/{request.path_params['ref']}/events",
        timezone=view.timezone,
        clinic=view.clinic,
        branch=view.branch,
        department=view.department,
        code=view.code,
        name=view.name,
        status=view.status,
        **texts,
    )


async def token_events(request: Request) -> Response:
    service = _service(request)
    try:
        ref = _verified(request)
        view = await service.off_loop(_view, service, ref)
    except (LinkExpired, LinkInvalid):
        return PlainTextResponse("This link is not valid any more", status_code=403)
    except NotFound:
        return PlainTextResponse("Token not found", status_code=404)
    stream = _token_stream(service, ref, view)
    return StreamingResponse(stream, media_type="text/event-stream", headers=SSE_HEADERS)


async def _token_stream(
    service: SignageService, ref: TokenRef, view: TokenView
) -> AsyncIterator[bytes]:
    yield sse.preamble()
    yield sse.message("token", _token_payload(view))
    branch = await service.off_loop(_branch_of, service, ref.tenant_id, view.branch_id)
    watcher = TokenWatcher(view.token_id, view.department_id)
    hub = await service.subscribe(branch, watcher, None, snapshot=False)
    try:
        # Anything committed between the first view and the subscription has no event left
        # to wake this stream: look again now that every later event will reach it.
        latest = await service.off_loop(_view, service, ref)
        if latest != view:
            view = latest
            yield sse.message("token", _token_payload(view))
        while True:
            item = await watcher.queue.get()
            if item is None:
                return
            if item.startswith(b"event: ping"):
                yield item
                continue
            while not watcher.queue.empty():  # coalesce a burst into one re-render
                if watcher.queue.get_nowait() is None:
                    return
            if service.clock() >= ref.expires_at:
                yield sse.message("expired", {})
                return
            latest = await service.off_loop(_view, service, ref)
            if latest != view:
                view = latest
                yield sse.message("token", _token_payload(view))
    finally:
        service.unsubscribe(hub, watcher)


def _branch_of(service: SignageService, tenant_id: int, branch_id: int) -> BranchRef:
    with service.read(tenant_id) as (session, _actor):
        return branch_ref(session, tenant_id, branch_id)


def _token_payload(view: TokenView) -> dict[str, object]:
    return {"token": view, **token_texts(view)}


HEADLINES = {
    "waiting": "Please wait, we will call you",
    "called": "Please go to {room} now",
    "in_consultation": "You are with the doctor",
    "at_lab": "At the lab; come back when your tests are done",
    "done": "Visit complete. Thank you!",
    "missed": "You were called but missed it; please see the reception desk",
    "cancelled": "This token was cancelled",
    "expired": "This token has expired",
}


def token_texts(view: TokenView) -> dict[str, str]:
    """The patient-facing words for a token's state (also sent to the live page)."""
    headline = HEADLINES.get(view.status, view.status.replace("_", " ").capitalize())
    if view.status == "waiting" and view.ahead == 0:
        headline = "You are next"
    position = "—"
    if view.ahead is not None:
        people = "person" if view.ahead == 1 else "people"
        position = f"{view.ahead} {people} ahead of you" if view.ahead else "You are next"
    eta = "—"
    if view.eta is not None:
        local = view.eta.astimezone(ZoneInfo(view.timezone)).strftime("%H:%M")
        eta = f"about {local}" + (f" (≈{view.minutes} min)" if view.minutes is not None else "")
        if view.eta_low is not None and view.eta_high is not None and view.eta_low < view.eta_high:
            zone = ZoneInfo(view.timezone)
            low, high = (
                t.astimezone(zone).strftime("%H:%M") for t in (view.eta_low, view.eta_high)
            )
            eta += f", between {low} and {high}"
    return {
        "headline": headline.format(room=view.room or "the doctor's room"),
        "position": position,
        "eta": eta,
        "doctor": view.doctor or "Next available doctor",
        "room": view.room or "—",
    }


routes: list[BaseRoute] = [
    Route("/signage/{branch}", tv_page, methods=["GET"]),
    Route("/signage/{branch}/events", tv_events, methods=["GET"]),
    Route("/t/{ref}", token_page, methods=["GET"]),
    Route("/t/{ref}/events", token_events, methods=["GET"]),
]
