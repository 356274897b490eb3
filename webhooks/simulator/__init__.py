"""The WhatsApp simulator: a demo page where a person chats with the clinic as a patient.

Mounted by ``qlink.asgi.create_app`` only when ``QLINK_WHATSAPP_SIMULATOR=1`` (``qlink demo``
sets it). Inbound, the page's API builds the exact webhook Meta sends, signs it with
``WHATSAPP_APP_SECRET`` and POSTs it over HTTP to the service's own ``/webhooks/whatsapp``.
Outbound, ``/simulator/graph/{version}/{phone_number_id}/messages`` is a fake Graph API that
``WHATSAPP_GRAPH_URL`` points at: it records what QLink sends, answers like Meta and posts the
signed ``sent``/``delivered``/``read`` statuses back. Chats live in the process's memory.

It refuses to run while WhatsApp is configured for real (an access token and Meta's Graph URL):
the simulator forges signed deliveries, which must never reach a live clinic.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.routing import BaseRoute

from qlink.settings import ConfigError, Settings


class SimulatorRefused(ConfigError):
    """The simulator was enabled while WhatsApp talks to Meta for real."""


def check(settings: Settings) -> None:
    """Raise ``SimulatorRefused`` when an access token is set and the Graph URL is Meta's."""
    host = (urlsplit(settings.whatsapp_graph_url or "").hostname or "").lower()
    meta = host == "graph.facebook.com" or host.endswith(".facebook.com")
    if settings.whatsapp_access_token and meta:
        raise SimulatorRefused(
            "The WhatsApp simulator cannot run while WHATSAPP_ACCESS_TOKEN is set and "
            f"WHATSAPP_GRAPH_URL points at Meta ({host}): it signs fake patient messages. "
            "Unset QLINK_WHATSAPP_SIMULATOR for a real clinic, or unset WHATSAPP_ACCESS_TOKEN "
            "for a demo."
        )


def routes_for(settings: Settings) -> list[BaseRoute]:
    """The simulator's routes when it is enabled (none otherwise); refuses a live Meta setup."""
    if not settings.whatsapp_simulator:
        return []
    check(settings)
    from webhooks.simulator.app import Simulator

    return Simulator(settings).routes()
