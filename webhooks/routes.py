"""Routes of the WhatsApp webhooks, mounted by ``qlink.asgi.create_app``.

The seam for the WhatsApp issue: ``GET``/``POST /webhooks/whatsapp`` and
``POST /webhooks/whatsapp/flows`` (SPEC §3) are added to this list.
"""

from __future__ import annotations

from starlette.routing import BaseRoute

routes: list[BaseRoute] = []
