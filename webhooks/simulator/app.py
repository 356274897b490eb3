"""The simulator's page, its small JSON API and the fake Graph API (see the package docstring).

Both directions go over real HTTP to this same service: the page's messages through
``POST /webhooks/whatsapp`` (signed, like Meta), QLink's answers through the relay's
``GraphClient`` to ``/simulator/graph/...``. The service's own address is the socket the
request arrived on (``scope["server"]``), which is reachable from this process by definition.
"""

from __future__ import annotations

import asyncio
import hashlib
import html
import json
import logging
import time
from functools import cache
from pathlib import Path
from string import Template
from typing import Any

import httpx
from sqlalchemy import select
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from db.engine import ALL_TENANTS, Database
from db.models import Tenant, WhatsAppNumber
from qlink.settings import Settings
from webhooks.simulator import payloads
from webhooks.simulator.chats import Chats
from webhooks.simulator.payloads import PayloadError, Sender

log = logging.getLogger("qlink.whatsapp.simulator")
HERE = Path(__file__).parent
STATIC = HERE / "static"
DEFAULT_DISPLAY = "15550000000"
STATUSES = ("sent", "delivered", "read")
MAX_BATCH = 10
TIMEOUT = httpx.Timeout(10.0)


@cache
def _asset(name: str) -> str:
    digest = hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:10]
    return f"/simulator/static/{name}?v={digest}"


@cache
def _page_template() -> Template:
    return Template((HERE / "templates" / "simulator.html").read_text(encoding="utf-8"))


class Simulator:
    """One per app: the in-memory chats and the handlers that share them."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.chats = Chats()

    def routes(self) -> list[BaseRoute]:
        graph = "/simulator/graph/{version}/{phone_number_id}"
        return [
            Route("/simulator", self.page, methods=["GET"]),
            Mount("/simulator/static", StaticFiles(directory=STATIC), name="simulator-static"),
            Route("/simulator/api/clinics", self.clinics, methods=["GET"]),
            Route("/simulator/api/chat", self.chat, methods=["GET"]),
            Route("/simulator/api/send", self.send, methods=["POST"]),
            Route("/simulator/api/outbound", self.outbound, methods=["GET"]),
            Route(graph + "/messages", self.graph_messages, methods=["POST"]),
            Route(graph + "/media", self.graph_media, methods=["POST"]),
        ]

    # -- the page and its API ------------------------------------------------------------

    async def page(self, request: Request) -> Response:
        values = {
            "css": _asset("simulator.css"),
            "js": _asset("simulator.js"),
        }
        body = _page_template().substitute({k: html.escape(v) for k, v in values.items()})
        return HTMLResponse(body, headers={"Cache-Control": "no-store"})

    async def clinics(self, request: Request) -> Response:
        found = await asyncio.to_thread(_numbers, request.app.state.database)
        return JSONResponse({"clinics": found})

    async def chat(self, request: Request) -> Response:
        params = request.query_params
        number, party = params.get("phone_number_id", ""), params.get("party", "")
        version = self.chats.version
        if params.get("version") == str(version):
            return JSONResponse({"version": version, "bubbles": None})
        return JSONResponse({"version": version, "bubbles": self.chats.chat(number, party)})

    async def outbound(self, request: Request) -> Response:
        return JSONResponse({"messages": self.chats.outbound()})

    async def send(self, request: Request) -> Response:
        """Send the patient's message(s) as one signed webhook delivery; say what it answered."""
        if request.headers.get("content-type", "").split(";")[0] != "application/json":
            return JSONResponse({"error": "Send JSON"}, 415)
        try:
            data = await request.json()
            number = str(data.get("phone_number_id") or "")
            sender = Sender(
                wa_id=str(data.get("wa_id") or "").lstrip("+") or None,
                user_id=str(data.get("user_id") or "") or None,
                name=str(data.get("name") or "Simulated patient")[:60],
            )
            items = data.get("messages")
            if not number.isdigit():
                raise PayloadError("Pick the clinic's phone_number_id")
            if not isinstance(items, list) or not 1 <= len(items) <= MAX_BATCH:
                raise PayloadError(f"Send 1 to {MAX_BATCH} messages at once")
            display = await asyncio.to_thread(_display, request.app.state.database, number)
            now = int(time.time())
            messages = [
                payloads.inbound_message(
                    sender, item, wamid=payloads.new_wamid(), timestamp=now, business=display
                )
                for item in items
            ]
        except (ValueError, AttributeError, TypeError) as exc:  # PayloadError, bad JSON
            return JSONResponse({"error": str(exc)}, 400)
        bubbles = [self.chats.add(number, sender.party, "in", m["id"], m) for m in messages]
        body = payloads.encode(payloads.delivery(number, display, sender, messages))
        status, text = await self._post_webhook(request, body)
        self.chats.set_webhook_status(bubbles, status)
        answer = {
            "webhook_status": status,
            "wamids": [m["id"] for m in messages],
            "party": sender.party,
        }
        if status != 200:
            answer["error"] = text
        return JSONResponse(answer, 200 if status == 200 else 502)

    # -- the fake Graph API ----------------------------------------------------------------

    async def graph_messages(self, request: Request) -> Response:
        """Record a send and answer like Meta; then post the signed statuses back."""
        refused = self._unauthorised(request)
        if refused is not None:
            return refused
        try:
            body = json.loads(await request.body())
        except ValueError:
            return JSONResponse(payloads.graph_error(100, "Invalid JSON"), 400)
        if not isinstance(body, dict) or body.get("messaging_product") != "whatsapp":
            return JSONResponse(payloads.graph_error(100, "messaging_product is required"), 400)
        number = request.path_params["phone_number_id"]
        if body.get("status") == "read":  # QLink marked the patient's message read
            self.chats.set_status(str(body.get("message_id") or ""), "read")
            return JSONResponse({"success": True})
        party = str(body.get("to") or body.get("recipient") or "")
        if not party or not body.get("type"):
            return JSONResponse(payloads.graph_error(100, "to (or recipient) and type"), 400)
        wamid = payloads.new_wamid()
        self.chats.add(number, party, "out", wamid, body)
        db = request.app.state.database
        statuses = BackgroundTask(self._post_statuses, db, _base_url(request), number, wamid, body)
        return JSONResponse(payloads.graph_answer(body, wamid), background=statuses)

    async def graph_media(self, request: Request) -> Response:
        """Accept a media upload (documents) and answer its id, like Meta."""
        refused = self._unauthorised(request)
        if refused is not None:
            return refused
        raw = await request.body()
        return JSONResponse({"id": "SIM" + hashlib.sha256(raw).hexdigest()[:15]})

    def _unauthorised(self, request: Request) -> Response | None:
        token = self.settings.whatsapp_access_token
        if token and request.headers.get("authorization") == f"Bearer {token}":
            return None
        error = payloads.graph_error(190, "Invalid OAuth access token")
        return JSONResponse(error, 401)

    async def _post_statuses(
        self, db: Database, base: str, number: str, wamid: str, body: dict[str, Any]
    ) -> None:
        display = await asyncio.to_thread(_display, db, number)
        callback = body.get("biz_opaque_callback_data")
        async with httpx.AsyncClient(base_url=base, timeout=TIMEOUT) as client:
            for status in STATUSES:
                delivery = payloads.status_delivery(
                    number,
                    display,
                    wamid=wamid,
                    status=status,
                    timestamp=int(time.time()),
                    recipient=payloads.status_recipient(body),
                    callback_data=str(callback) if callback else None,
                )
                code = await self._sign_and_post(client, payloads.encode(delivery))
                if code != 200:
                    log.warning("simulator: %s status for %s answered %s", status, wamid, code)
                    return
                self.chats.set_status(wamid, status)

    async def _post_webhook(self, request: Request, body: bytes) -> tuple[int, str]:
        async with httpx.AsyncClient(base_url=_base_url(request), timeout=TIMEOUT) as client:
            try:
                response = await self._send(client, body)
            except httpx.HTTPError as exc:
                return 599, f"{type(exc).__name__}: {exc}"
        return response.status_code, response.text[:300]

    async def _sign_and_post(self, client: httpx.AsyncClient, body: bytes) -> int:
        try:
            return (await self._send(client, body)).status_code
        except httpx.HTTPError:
            return 599

    async def _send(self, client: httpx.AsyncClient, body: bytes) -> httpx.Response:
        signature = payloads.sign(body, self.settings.whatsapp_app_secret)
        headers = {"content-type": "application/json", "x-hub-signature-256": signature}
        return await client.post("/webhooks/whatsapp", content=body, headers=headers)


def _base_url(request: Request) -> str:
    """The address this request reached the service on (``scope["server"]``)."""
    host, port = request.scope.get("server") or ("127.0.0.1", 8000)
    host = f"[{host}]" if ":" in str(host) else host
    return f"http://{host}:{port}"


def _numbers(db: Database) -> list[dict[str, str]]:
    with db.transaction(ALL_TENANTS, readonly=True) as session:
        rows = session.execute(
            select(WhatsAppNumber.phone_number_id, WhatsAppNumber.display_number, Tenant.name)
            .join(Tenant, Tenant.id == WhatsAppNumber.tenant_id)
            .order_by(WhatsAppNumber.phone_number_id)
        ).all()
    return [
        {"phone_number_id": pid, "display_number": shown or "", "clinic": name}
        for pid, shown, name in rows
    ]


def _display(db: Database, number: str) -> str:
    with db.transaction(ALL_TENANTS, readonly=True) as session:
        row = session.get(WhatsAppNumber, number)
        shown = row.display_number if row is not None else None
    return "".join(c for c in (shown or "") if c.isdigit()) or DEFAULT_DISPLAY
