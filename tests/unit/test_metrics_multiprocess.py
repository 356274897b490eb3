"""Metrics of several worker processes (``qlink serve --workers N``), summed at scrape time.

Each "worker" is a real Python process started with PROMETHEUS_MULTIPROC_DIR set, as uvicorn
starts them; the scraping side reads only the directory.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from qlink.serve import worker_metrics_dir
from signage.metrics import MULTIPROC_ENV, DatabaseCollector, ServiceMetrics

ROOT = Path(__file__).resolve().parents[2]
WORKER = """
import os, sys
from signage.metrics import DatabaseCollector, ServiceMetrics
metrics = ServiceMetrics(DatabaseCollector(dict, ()), multiprocess_dir=os.environ[sys.argv[1]])
metrics.worker_started()
for _ in range(int(sys.argv[2])):
    metrics.streams.streams_opened()
metrics.requests.observe("GET", "/healthz", 200, 0.01)
print("ready", flush=True)
if sys.argv[3] == "stay":
    sys.stdin.readline()  # until the test says stop, then shut down as the lifespan does
    metrics.worker_stopped()
"""


def start_worker(path: Path, streams: int, *, stay: bool) -> subprocess.Popen[str]:
    env = {**os.environ, MULTIPROC_ENV: str(path)}
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER, MULTIPROC_ENV, str(streams), "stay" if stay else "exit"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert worker.stdout is not None and worker.stdout.readline().strip() == "ready"
    return worker


def scrape(metrics: ServiceMetrics) -> dict[str, float]:
    body, _ = metrics.exposition(None)
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            out[sample.name] = out.get(sample.name, 0.0) + sample.value
    return out


def test_workers_are_summed_and_a_dead_workers_open_streams_are_swept(tmp_path):
    staying = start_worker(tmp_path, 2, stay=True)
    crashed = start_worker(tmp_path, 1, stay=False)  # exits without its lifespan's cleanup
    crashed.communicate(timeout=30)
    assert crashed.returncode == 0
    scraper = ServiceMetrics(DatabaseCollector(dict, ()), multiprocess_dir=str(tmp_path))
    try:
        got = scrape(scraper)
        assert got["qlink_sse_open_connections"] == 3
        assert got["qlink_sse_connections_total"] == 3
        assert got["qlink_http_requests_total"] == 2

        scraper.worker_started()  # a new worker sweeps files of pids that are gone
        assert not list(tmp_path.glob(f"gauge_live*_{crashed.pid}.db"))
        assert list(tmp_path.glob(f"gauge_live*_{staying.pid}.db"))
        got = scrape(scraper)
        assert got["qlink_sse_open_connections"] == 2
        assert got["qlink_sse_connections_total"] == 3  # counters keep the dead worker's share
        assert got["qlink_http_requests_total"] == 2
    finally:
        staying.communicate("stop\n", timeout=30)
    assert staying.returncode == 0
    assert not list(tmp_path.glob(f"gauge_live*_{staying.pid}.db"))
    assert scrape(scraper).get("qlink_sse_open_connections", 0) == 0


def test_serve_gives_each_run_a_fresh_metrics_directory_and_removes_it(monkeypatch):
    monkeypatch.delenv(MULTIPROC_ENV, raising=False)
    with worker_metrics_dir() as first:
        assert os.environ[MULTIPROC_ENV] == first and not os.listdir(first)
    with worker_metrics_dir() as second:
        assert second != first
    assert not Path(first).exists() and not Path(second).exists()
    assert MULTIPROC_ENV not in os.environ
