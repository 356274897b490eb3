"""The WhatsApp conversation as the service and the workers run it: links signed for this site."""

from __future__ import annotations

import functools

from core.messaging.conversation import handle_inbound
from core.messaging.conversation.turn import TokenLinks
from core.messaging.inbound import Handler
from qlink.settings import Settings


def inbound_handler(settings: Settings) -> Handler:
    """Answer inbound messages with tracking links signed by the app's secret.

    Links are absolute when ``QLINK_PUBLIC_URL`` says where patients' phones reach the service;
    without it they are the relative path ``/t/{ref}``.
    """
    links = TokenLinks(settings.secret_key, base_url=settings.public_url)
    return functools.partial(handle_inbound, links=links)
