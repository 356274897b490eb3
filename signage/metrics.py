"""Prometheus text metrics kept in process memory (each process is scraped on its own)."""

from __future__ import annotations

import bisect
import threading
from collections import defaultdict
from collections.abc import Iterable, Sequence

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Histogram:
    """Cumulative-bucket histogram with sum and count, as Prometheus expects."""

    def __init__(self, buckets: Sequence[float] = LATENCY_BUCKETS) -> None:
        self.buckets = tuple(buckets)
        self.counts = [0] * (len(self.buckets) + 1)
        self.total = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.buckets, value)] += 1
        self.total += value
        self.count += 1

    def lines(self, name: str, labels: str = "") -> Iterable[str]:
        running = 0
        sep = "," if labels else ""
        for bound, count in zip(self.buckets, self.counts, strict=False):
            running += count
            yield f'{name}_bucket{{{labels}{sep}le="{bound}"}} {running}'
        yield f'{name}_bucket{{{labels}{sep}le="+Inf"}} {self.count}'
        suffix = f"{{{labels}}}" if labels else ""
        yield f"{name}_sum{suffix} {self.total:.6f}"
        yield f"{name}_count{suffix} {self.count}"


class StreamMetrics:
    """Open SSE streams and the age of events when they reach the screens."""

    def __init__(self) -> None:
        self.open = 0
        self.opened = 0
        self.horizon = 0
        self.lag = Histogram()

    def streams_opened(self) -> None:
        self.open += 1
        self.opened += 1

    def streams_closed(self) -> None:
        self.open -= 1

    def event_lag(self, seconds: float) -> None:
        self.lag.observe(max(seconds, 0.0))

    def lines(self) -> Iterable[str]:
        yield "# HELP qlink_sse_open_connections SSE streams open in this process."
        yield "# TYPE qlink_sse_open_connections gauge"
        yield f"qlink_sse_open_connections {self.open}"
        yield "# HELP qlink_sse_connections_total SSE streams opened since start."
        yield "# TYPE qlink_sse_connections_total counter"
        yield f"qlink_sse_connections_total {self.opened}"
        yield "# HELP qlink_queue_event_horizon Highest queue event id delivered in order."
        yield "# TYPE qlink_queue_event_horizon gauge"
        yield f"qlink_queue_event_horizon {self.horizon}"
        yield "# HELP qlink_queue_event_lag_seconds Event time to fan-out to screens."
        yield "# TYPE qlink_queue_event_lag_seconds histogram"
        yield from self.lag.lines("qlink_queue_event_lag_seconds")


class RequestMetrics:
    """Requests by route template and status class, and their latencies (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, str, str], int] = defaultdict(int)
        self.latency: dict[str, Histogram] = defaultdict(Histogram)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        with self._lock:
            self.requests[(method, route, f"{status // 100}xx")] += 1
            self.latency[route].observe(seconds)

    def lines(self) -> Iterable[str]:
        with self._lock:
            requests = sorted(self.requests.items())
            latency = sorted(self.latency.items())
        yield "# HELP qlink_http_requests_total HTTP requests by route and status class."
        yield "# TYPE qlink_http_requests_total counter"
        for (method, route, status), count in requests:
            labels = f'method="{method}",route="{route}",status="{status}"'
            yield f"qlink_http_requests_total{{{labels}}} {count}"
        yield "# HELP qlink_http_request_seconds Time to the response's first byte."
        yield "# TYPE qlink_http_request_seconds histogram"
        for route, hist in latency:
            yield from hist.lines("qlink_http_request_seconds", f'route="{route}"')
