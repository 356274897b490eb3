"""Routes of the WhatsApp webhooks, mounted by ``qlink.asgi.create_app``.

``GET``/``POST /webhooks/whatsapp`` (SPEC §3); ``POST /webhooks/whatsapp/flows`` is added to
this list with the Flows endpoint.
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from webhooks import flows, whatsapp

routes: list[BaseRoute] = [
    Route("/webhooks/whatsapp", whatsapp.verify, methods=["GET"]),
    Route("/webhooks/whatsapp", whatsapp.receive, methods=["POST"]),
    flows.route,
]
