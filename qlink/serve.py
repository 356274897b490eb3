"""`qlink serve`: the Starlette service (TV signage, token pages, webhooks) under uvicorn.

uvicorn[standard] (httptools + uvloop) is used on purpose: plain h11 with several workers adds
tens of milliseconds to keep-alive responses (SPEC §7). Logs are one JSON object per line.
With several workers, their Prometheus samples go to a directory made for this run (see
``signage.metrics``) so a scrape answered by any worker reports them all.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from typing import Any

from qlink.settings import Settings
from signage.metrics import MULTIPROC_ENV

GRACEFUL_SECONDS = 5


class JsonFormatter(logging.Formatter):
    """One JSON object per line; messages that already are JSON objects are merged in."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        message = record.getMessage()
        if message.startswith("{"):
            try:
                entry.update(json.loads(message))
            except ValueError:
                entry["msg"] = message
        else:
            entry["msg"] = message
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


LOG_CONFIG: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "qlink.serve.JsonFormatter"}},
    "handlers": {"out": {"class": "logging.StreamHandler", "formatter": "json"}},
    "loggers": {
        "uvicorn": {"handlers": ["out"], "level": "INFO", "propagate": False},
        "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        "qlink": {"handlers": ["out"], "level": "INFO", "propagate": False},
    },
}


def configure(parser: argparse.ArgumentParser) -> None:
    """Add this command's options."""
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="TCP port (default 8000)")
    parser.add_argument(
        "--workers", type=int, default=1, help="worker processes (screens may use any of them)"
    )


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Serve until SIGTERM or Ctrl-C; open TV streams are closed so shutdown is prompt."""
    import uvicorn

    options: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "log_config": LOG_CONFIG,
        "access_log": False,
        "timeout_graceful_shutdown": GRACEFUL_SECONDS,
        "proxy_headers": True,
        "server_header": False,
    }
    if args.workers > 1:
        # Each worker builds its own settings from the same environment and var/ secrets.
        with worker_metrics_dir():
            uvicorn.run("qlink.asgi:app_from_env", factory=True, workers=args.workers, **options)
    else:
        from qlink.asgi import create_app

        uvicorn.run(create_app(settings), **options)
    return 0


@contextlib.contextmanager
def worker_metrics_dir() -> Iterator[str]:
    """Point the workers at a fresh metrics directory for this run; remove it afterwards.

    Fresh because prometheus_client sums every file it finds there: a previous run's counters
    would be added to this one's. Set before uvicorn spawns the workers, which inherit it and
    read it when they import prometheus_client.
    """
    path = tempfile.mkdtemp(prefix="qlink-metrics-")
    previous = os.environ.get(MULTIPROC_ENV)
    os.environ[MULTIPROC_ENV] = path
    try:
        yield path
    finally:
        if previous is None:
            os.environ.pop(MULTIPROC_ENV, None)
        else:
            os.environ[MULTIPROC_ENV] = previous
        shutil.rmtree(path, ignore_errors=True)
