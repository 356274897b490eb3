"""The patient's records page ``/me/{ref}``: server-rendered HTML, no script, strict CSP.

Every request verifies the signed link (signature, expiry) before any database access, then
opens a transaction scoped to the link's clinic, where core checks the link's generation
(revocation) and serves only that patient's rows. Actions are plain forms (POST, then 303 back).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from html import escape
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from api.models import MAX_ID
from core.errors import DomainError, NotFound
from core.patients import self_service as me
from core.patients.record_links import RecordsRef, verify_records_ref
from core.signage.links import LinkExpired, LinkInvalid
from db.engine import Database

CSS = Path(__file__).parent / "static" / "records.css"
NO_STORE = {"cache-control": "no-store", "referrer-policy": "no-referrer"}
Op = Callable[[Session, Any, RecordsRef], Any]


async def _run(request: Request, op: Op, *, readonly: bool = False) -> Any:
    """Verify the link, then run ``op`` in a transaction of its clinic (off the event loop)."""
    state = request.app.state
    ref = verify_records_ref(
        state.settings.secret_key, request.path_params["ref"], now=state.clock()
    )
    db: Database = state.database

    def work() -> Any:
        with db.transaction(ref.tenant_id, readonly=readonly) as session:
            return op(session, me.self_actor(ref, state.clock), ref)

    return await asyncio.to_thread(work)


def _refused(exc: DomainError) -> HTMLResponse:
    if isinstance(exc, LinkExpired):
        text = "This link has expired. Send “my records” to the clinic on WhatsApp for a new one."
    elif isinstance(exc, LinkInvalid):
        text = "This link is not valid any more. Send “my records” on WhatsApp for a new one."
    elif isinstance(exc, NotFound):
        return _page("Not found", "<p class='notice'>That item is not in your records.</p>", 404)
    else:
        text = exc.message
    return _page("Link not valid", f"<p class='notice'>{escape(text)}</p>", 403)


def _page(title: str, body: str, status: int = 200, header: str = "") -> HTMLResponse:
    html = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        "<meta name='robots' content='noindex'>"
        f"<title>{escape(title)}</title><link rel='stylesheet' href='/me-static/records.css'>"
        f"</head><body><header>{header or f'<h1>{escape(title)}</h1>'}</header>"
        f"<main>{body}</main><footer>Private link: do not forward it.</footer></body></html>"
    )
    return HTMLResponse(html, status, headers=NO_STORE)


def _id(request: Request, name: str) -> int:
    raw = request.path_params[name]
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_ID:
        raise NotFound("Not found")
    return int(raw)


def _visit(v: me.Visit, ref: str) -> str:
    actions = ""
    if v.can_change:
        actions = (
            "<div class='actions'>"
            f"<a class='button' href='/me/{ref}/appointments/{v.id}/reschedule'>Reschedule</a>"
            f"<form method='post' action='/me/{ref}/appointments/{v.id}/cancel'>"
            "<button class='danger' type='submit'>Cancel</button></form></div>"
        )
    return (
        f"<li><div class='what'>{escape(v.when)}<span class='status'>{escape(v.status)}</span>"
        f"</div><div class='meta'>{escape(v.doctor)}</div>{actions}</li>"
    )


def _list(title: str, items: list[str], empty: str) -> str:
    inner = f"<ul>{''.join(items)}</ul>" if items else f"<p class='empty'>{escape(empty)}</p>"
    return f"<section><h2>{escape(title)}</h2>{inner}</section>"


def render(page: me.RecordsPage, ref: str) -> str:
    """The page body: upcoming and past visits, tokens, documents, bills and receipts."""
    docs = [
        f"<li><a class='download' href='/me/{ref}/documents/{d.id}'>{escape(d.filename)}</a>"
        f"<div class='meta'>{escape(d.kind.replace('_', ' '))} · {escape(d.when)}</div></li>"
        for d in page.documents
    ]
    bills = [
        f"<li><div class='what'><a class='download' href='/me/{ref}/bills/{b.id}'>"
        f"Bill {escape(b.number)}</a><span class='status'>{escape(b.status)}</span></div>"
        f"<div class='meta'>{escape(b.when)} · total {escape(b.total)} · due {escape(b.due)}</div>"
        + "".join(
            f"<div class='meta'><a class='download' href='/me/{ref}/receipts/{r.payment_id}'>"
            f"Receipt {escape(r.number)}</a> · {escape(r.amount)}</div>"
            for r in b.receipts
        )
        + "</li>"
        for b in page.bills
    ]
    tokens = [
        f"<li><div class='what'>{escape(t.code)}<span class='status'>{escape(t.status)}</span>"
        f"</div><div class='meta'>{escape(t.day)}</div></li>"
        for t in page.tokens
    ]
    return "".join(
        [
            _list("Upcoming appointments", [_visit(v, ref) for v in page.upcoming], "None booked."),
            _list("Prescriptions and documents", docs, "No documents yet."),
            _list("Bills and receipts", bills, "No bills."),
            _list("Tokens", tokens, "No tokens yet."),
            _list("Past appointments", [_visit(v, ref) for v in page.past], "No past visits."),
        ]
    )


async def records_page(request: Request) -> Response:
    """GET /me/{ref}"""
    try:
        page: me.RecordsPage = await _run(request, lambda s, a, r: me.patient_records(s, a, ref=r))
    except DomainError as exc:
        return _refused(exc)
    ref = escape(request.path_params["ref"])
    header = f"<h1>Hello, {escape(page.first_name)}</h1><p>{escape(page.clinic)}</p>"
    return _page("Your records", render(page, ref), header=header)


async def document(request: Request) -> Response:
    """GET /me/{ref}/documents/{id}: the file, as an attachment."""
    try:
        doc_id = _id(request, "document_id")
        name, mime, content = await _run(
            request, lambda s, a, r: me.own_document(s, a, ref=r, document_id=doc_id)
        )
    except DomainError as exc:
        return _refused(exc)
    return _download(content, mime, name)


async def bill(request: Request) -> Response:
    """GET /me/{ref}/bills/{id}: the bill PDF."""
    try:
        bill_id = _id(request, "bill_id")
        content = await _run(request, lambda s, a, r: me.own_bill_pdf(s, a, ref=r, bill_id=bill_id))
    except DomainError as exc:
        return _refused(exc)
    return _download(content, "application/pdf", f"bill-{bill_id}.pdf")


async def receipt(request: Request) -> Response:
    """GET /me/{ref}/receipts/{id}: the receipt PDF."""
    try:
        pay_id = _id(request, "payment_id")
        content = await _run(
            request, lambda s, a, r: me.own_receipt_pdf(s, a, ref=r, payment_id=pay_id)
        )
    except DomainError as exc:
        return _refused(exc)
    return _download(content, "application/pdf", f"receipt-{pay_id}.pdf")


def _download(content: bytes, mime: str, filename: str) -> Response:
    safe = "".join(c for c in filename if c.isalnum() or c in "._-") or "document"
    headers = {**NO_STORE, "content-disposition": f'attachment; filename="{safe}"'}
    return Response(content, media_type=mime, headers=headers)


async def cancel(request: Request) -> Response:
    """POST /me/{ref}/appointments/{id}/cancel"""
    try:
        appt_id = _id(request, "appointment_id")
        await _run(request, lambda s, a, r: me.cancel_own(s, a, ref=r, appointment_id=appt_id))
    except DomainError as exc:
        return _refused(exc)
    return RedirectResponse(f"/me/{request.path_params['ref']}", 303)


async def reschedule_form(request: Request) -> Response:
    """GET /me/{ref}/appointments/{id}/reschedule: the next free slots as buttons."""
    try:
        appt_id = _id(request, "appointment_id")
        slots = await _run(
            request,
            lambda s, a, r: [
                (slot.start, f"{slot.local_start:%a %d %b, %H:%M}")
                for slot in me.reschedule_choices(s, a, ref=r, appointment_id=appt_id)
            ],
            readonly=True,
        )
    except DomainError as exc:
        return _refused(exc)
    ref = escape(request.path_params["ref"])
    buttons = "".join(
        f"<li><form method='post' action='/me/{ref}/appointments/{appt_id}/reschedule'>"
        f"<input type='hidden' name='slot' value='{int(start.timestamp())}'>"
        f"<button type='submit'>{escape(label)}</button></form></li>"
        for start, label in slots
    )
    body = _list("Pick a new time", [buttons] if buttons else [], "No free slots soon.")
    return _page("Reschedule", body + f"<p><a class='button' href='/me/{ref}'>Back</a></p>")


async def reschedule(request: Request) -> Response:
    """POST /me/{ref}/appointments/{id}/reschedule (form field ``slot``, epoch seconds)."""
    try:
        appt_id = _id(request, "appointment_id")
        raw = str((await request.form()).get("slot") or "")
        if not raw.isdigit() or len(raw) > 12:
            raise NotFound("Slot not found")
        start = dt.datetime.fromtimestamp(int(raw), dt.UTC)
        await _run(
            request,
            lambda s, a, r: me.reschedule_own(
                s, a, ref=r, appointment_id=appt_id, slot_start=start
            ),
        )
    except DomainError as exc:
        return _refused(exc)
    return RedirectResponse(f"/me/{request.path_params['ref']}", 303)


async def stylesheet(_request: Request) -> Response:
    return FileResponse(CSS, media_type="text/css")


routes = [
    Route("/me-static/records.css", stylesheet, methods=["GET"]),
    Route("/me/{ref}", records_page, methods=["GET"]),
    Route("/me/{ref}/documents/{document_id}", document, methods=["GET"]),
    Route("/me/{ref}/bills/{bill_id}", bill, methods=["GET"]),
    Route("/me/{ref}/receipts/{payment_id}", receipt, methods=["GET"]),
    Route("/me/{ref}/appointments/{appointment_id}/cancel", cancel, methods=["POST"]),
    Route("/me/{ref}/appointments/{appointment_id}/reschedule", reschedule_form, methods=["GET"]),
    Route("/me/{ref}/appointments/{appointment_id}/reschedule", reschedule, methods=["POST"]),
]
