"""Figures only the running service knows (open TV streams), read from its ``/metrics``."""

from __future__ import annotations

import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

TIMEOUT = 1.5


def open_screens(base_url: str) -> int | None:
    """Open SSE (TV) connections the service reports; None when it does not answer."""
    try:
        with urllib.request.urlopen(f"{base_url.rstrip('/')}/metrics", timeout=TIMEOUT) as reply:
            text = reply.read().decode()
    except (urllib.error.URLError, OSError, ValueError):
        return None
    for family in text_string_to_metric_families(text):
        if family.name == "qlink_sse_open_connections":
            return int(sum(s.value for s in family.samples))
    return None
