"""Server-sent events wire format and JSON encoding of core's read models."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any

RETRY_MS = 1000


def to_json(value: Any) -> str:
    """Encode dataclasses, datetimes and dates compactly (one line: SSE data must not wrap)."""
    return json.dumps(value, default=_default, separators=(",", ":"), ensure_ascii=False)


def message(event: str, data: Any, *, event_id: int | None = None) -> bytes:
    """One SSE message; ``id:`` makes the browser resend it as ``Last-Event-ID`` on reconnect."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {to_json(data)}\n\n".encode()


def preamble() -> bytes:
    """Sent first on every stream: the reconnect delay, and 2 KiB of padding for old proxies."""
    return f"retry: {RETRY_MS}\n:{' ' * 2048}\n\n".encode()


def ping(now: dt.datetime) -> bytes:
    """A heartbeat the page can see (comments are invisible to EventSource), no id."""
    return message("ping", {"server_time": now})


def _default(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, frozenset | set):
        return sorted(value)
    raise TypeError(f"cannot encode {type(value).__name__}")
