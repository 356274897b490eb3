"""The service's Prometheus metrics (prometheus_client) on a registry owned by one app.

One process: the app's registry is scraped as it is. Several uvicorn workers (``qlink serve
--workers N``): ``qlink serve`` points ``PROMETHEUS_MULTIPROC_DIR`` at a directory of its own
before the workers start, so every worker writes its samples there and a scrape answered by any
worker sums them all (``MultiProcessCollector``). Queue depth and database health are read from
the database when scraped, never stored.
"""

from __future__ import annotations

import glob
import logging
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

from core.system_health import HealthFigures

log = logging.getLogger("qlink.metrics")

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_LIVE_GAUGE_FILE = re.compile(r"^gauge_live[a-z]+_(\d+)\.db$")


class RequestMetrics:
    """Requests by route template and status class, and their latencies."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "qlink_http_requests",
            "HTTP requests by route and status class.",
            ["method", "route", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "qlink_http_request_duration_seconds",
            "Time to the response's first byte.",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, f"{status // 100}xx").inc()
        self.latency.labels(route).observe(seconds)


class StreamMetrics:
    """Open SSE streams, the delivered event horizon and the age of events at the screens."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        registry = registry if registry is not None else CollectorRegistry()
        # livesum/livemax: a worker that exited no longer counts (its files are removed).
        self.open = Gauge(
            "qlink_sse_open_connections",
            "SSE streams open now.",
            multiprocess_mode="livesum",
            registry=registry,
        )
        self.opened = Counter(
            "qlink_sse_connections", "SSE streams opened since start.", registry=registry
        )
        self.horizon = Gauge(
            "qlink_queue_event_horizon",
            "Highest queue event id delivered in order.",
            multiprocess_mode="livemax",
            registry=registry,
        )
        self.lag = Histogram(
            "qlink_queue_event_lag_seconds",
            "Event time to fan-out to screens.",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )

    def streams_opened(self) -> None:
        self.open.inc()
        self.opened.inc()

    def streams_closed(self) -> None:
        self.open.dec()

    def horizon_moved(self, position: int) -> None:
        self.horizon.set(position)

    def event_lag(self, seconds: float) -> None:
        self.lag.observe(max(seconds, 0.0))


class DatabaseCollector:
    """Database health and queue depth, read when scraped; the depth is absent while down."""

    def __init__(self, read_depth: Callable[[], Mapping[str, int]], statuses: Sequence[str]):
        self._read_depth = read_depth
        self._statuses = tuple(statuses)

    def describe(self) -> list[Metric]:
        return []  # registering must not query the database

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("qlink_db_up", "Whether the database answered this scrape.")
        try:
            counts = self._read_depth()
        except Exception as exc:  # metrics must still answer while the database is down
            log.warning("metrics: database unreachable: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        depth = GaugeMetricFamily(
            "qlink_queue_depth",
            "Active tokens of today and yesterday by status.",
            labels=["status"],
        )
        for status in self._statuses:
            depth.add_metric([status], counts.get(status, 0))
        yield depth


class HealthCollector:
    """The console's system-health figures (every clinic), read from the database when scraped.

    Nothing is reported while the database is down (``qlink_db_up`` says so).
    """

    def __init__(self, read: Callable[[], HealthFigures]) -> None:
        self._read = read

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        try:
            h = self._read()
        except Exception as exc:  # the scrape still answers; db_up reports the outage
            log.warning("metrics: health figures unavailable: %s", exc)
            return
        window = f"the last {h.window_hours} hours"
        yield _gauge(
            "qlink_outbox_backlog", "Outbox rows pending (side effects not sent).", h.outbox_pending
        )
        yield _gauge(
            "qlink_outbox_failed", "Outbox rows that gave up after retries.", h.outbox_failed
        )
        yield _gauge(
            "qlink_worker_lag_seconds",
            "Age of the oldest due outbox row not yet sent (0 when none).",
            h.worker_lag_seconds,
        )
        messages = GaugeMetricFamily(
            "qlink_messages_outbound",
            f"Outbound WhatsApp messages of {window} by outcome (sent = every one Meta took).",
            labels=["outcome"],
        )
        messages.add_metric(["sent"], h.messages_sent)
        messages.add_metric(["delivered"], h.messages_delivered)
        messages.add_metric(["failed"], h.messages_failed)
        yield messages
        if h.delivery_pct is not None:
            yield _gauge(
                "qlink_message_delivery_ratio",
                f"Delivered or read over sent, {window}.",
                h.delivery_pct / 100,
            )
        if h.webhooks_done is not None:
            hooks = GaugeMetricFamily(
                "qlink_webhook_deliveries",
                f"Webhook deliveries received in {window} by processing status.",
                labels=["status"],
            )
            hooks.add_metric(["done"], h.webhooks_done)
            hooks.add_metric(["failed"], h.webhooks_failed or 0)
            hooks.add_metric(["pending"], h.webhooks_pending or 0)
            yield hooks
        if h.webhook_success_pct is not None:
            yield _gauge(
                "qlink_webhook_success_ratio",
                f"Webhook deliveries processed over processed or failed, {window}.",
                h.webhook_success_pct / 100,
            )


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation)
    family.add_metric([], value)
    return family


class DatabaseTimer:
    """Time of every SQL statement the service runs (p95 via ``histogram_quantile``)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.statements = Histogram(
            "qlink_db_statement_duration_seconds",
            "Database statement time seen by the service.",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=registry,
        )

    def observe(self, seconds: float) -> None:
        self.statements.observe(seconds)


class ServiceMetrics:
    """One app's registry, its request and stream metrics, and the scrape that reads them."""

    def __init__(
        self,
        database: DatabaseCollector,
        *,
        multiprocess_dir: str | None,
        health: HealthCollector | None = None,
    ) -> None:
        self.registry = CollectorRegistry()
        self.requests = RequestMetrics(self.registry)
        self.streams = StreamMetrics(self.registry)
        self.database_time = DatabaseTimer(self.registry)
        self.multiprocess_dir = multiprocess_dir
        if multiprocess_dir:
            # Every worker's samples live in the directory; this process's registry is not read.
            self.scraped = CollectorRegistry()
            MultiProcessCollector(self.scraped, path=multiprocess_dir)
        else:
            self.scraped = self.registry
        self.scraped.register(database)
        if health is not None:
            self.scraped.register(health)

    def exposition(self, accept: str | None) -> tuple[bytes, str]:
        """The scrape body in the format ``accept`` asks for, and its content type."""
        encode, content_type = choose_encoder(accept or "")
        return encode(self.scraped), content_type

    def worker_started(self) -> None:
        """Remove the live gauges of workers that died without saying so (killed, crashed)."""
        if not self.multiprocess_dir:
            return
        for pid in sorted(_pids_with_live_gauges(self.multiprocess_dir)):
            if not _alive(pid):
                mark_process_dead(pid, self.multiprocess_dir)

    def worker_stopped(self) -> None:
        """Stop counting this process's open streams (uvicorn has no child-exit hook)."""
        if self.multiprocess_dir:
            mark_process_dead(os.getpid(), self.multiprocess_dir)


def _pids_with_live_gauges(path: str) -> set[int]:
    names = (os.path.basename(f) for f in glob.glob(os.path.join(path, "gauge_live*_*.db")))
    return {int(m.group(1)) for name in names if (m := _LIVE_GAUGE_FILE.match(name))}


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs; a zombie (exited, not yet reaped by uvicorn) counts as dead."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rpartition(")")[2].split()[0] != "Z"
    except OSError:  # no procfs (macOS): trust kill()
        return True
