"""``qlink worker``: send WhatsApp messages from the outbox.

With ``QLINK_REDIS_URL``: Dramatiq worker processes (``workers.boot``, worker timeout 100 ms)
plus a ticker that enqueues the outbox sweep every 200 ms (and the periodic jobs of
``workers.ticker``, the projection sweep among them), each slot claimed once in Redis.
Without Redis: the relay runs in this process (claim by compare-and-set every 200 ms).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import signal
import sys
import threading

from qlink.settings import ConfigError, Settings


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--processes", type=int, default=2, help="Dramatiq worker processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per worker process")
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between sweeps")
    parser.add_argument(
        "--lease", type=float, default=30.0, help="seconds before a dead worker's claim is retaken"
    )


def run(settings: Settings, args: argparse.Namespace) -> int:
    if not settings.outbound_whatsapp:
        raise ConfigError("qlink worker needs WHATSAPP_ACCESS_TOKEN and WHATSAPP_GRAPH_URL")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    if settings.redis_url:
        return _dramatiq(settings, args, stop)
    from workers.broker import runtime, setup_broker

    setup_broker(settings)
    relay = runtime().get_relay()
    relay.lease = dt.timedelta(seconds=args.lease)
    print("qlink worker: in-process relay (no QLINK_REDIS_URL)", file=sys.stderr, flush=True)
    relay.run(stop, args.interval)
    return 0


def _dramatiq(settings: Settings, args: argparse.Namespace, stop: threading.Event) -> int:
    import subprocess

    from workers.broker import LEASE_ENV, WORKER_TIMEOUT_MS, setup_broker
    from workers.ticker import (
        FEED_SECONDS,
        OFFER_SECONDS,
        PROJECTION_SWEEP_SECONDS,
        REMINDER_SECONDS,
        RETENTION_SECONDS,
        SWEEP_SECONDS,
        SlotClaim,
        run_ticker,
    )

    env = {
        **os.environ,
        "dramatiq_worker_timeout": WORKER_TIMEOUT_MS,
        LEASE_ENV: str(args.lease),  # --lease reaches the relay of each worker process
    }
    command = [sys.executable, "-m", "dramatiq", "workers.boot"]
    command += ["--processes", str(args.processes), "--threads", str(args.threads)]
    workers = subprocess.Popen(command, env=env)
    setup_broker(settings)
    from workers.actors import (
        expire_offers,
        purge_retention,
        refresh_calendar_feeds,
        repair_projections,
        send_reminders,
        sweep_outbox,
    )

    print(f"qlink worker: dramatiq pid {workers.pid} on Redis", file=sys.stderr, flush=True)
    jobs = {
        "outbox_sweep": (SWEEP_SECONDS, lambda: sweep_outbox.send()),
        "reminders": (REMINDER_SECONDS, lambda: send_reminders.send()),
        "offers": (OFFER_SECONDS, lambda: expire_offers.send()),
        "calendar_feeds": (FEED_SECONDS, lambda: refresh_calendar_feeds.send()),
        "retention": (RETENTION_SECONDS, lambda: purge_retention.send()),
        "projection_sweep": (PROJECTION_SWEEP_SECONDS, lambda: repair_projections.send()),
    }
    try:
        ticker = threading.Thread(
            target=run_ticker, args=(SlotClaim(settings.redis_url), jobs, stop)
        )
        ticker.start()
        while not stop.is_set() and workers.poll() is None:
            stop.wait(0.5)
    finally:
        stop.set()
        if workers.poll() is None:
            workers.terminate()
        workers.wait(30)
    return 0 if workers.returncode in (0, -signal.SIGTERM) else 1
