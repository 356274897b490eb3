"""/metrics: prometheus_client's exposition, checked by Prometheus's own ``promtool``.

promtool comes from Debian's ``prometheus`` package (``.ci/run`` installs it); these tests skip
locally without it and fail when CI=true.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from db.engine import Database
from qlink.asgi import create_app
from signage.metrics import MULTIPROC_ENV
from tests.conftest import CI
from tests.web.conftest import SECRET, free_port, settings_for
from tests.web.test_signage_stream import open_screen

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        if CI:
            pytest.fail("promtool not found (required when CI=true)", pytrace=False)
        pytest.skip("promtool not found (apt-get install prometheus)")
    return path


def promtool_check(promtool: str, exposition: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool, "check", "metrics"],
        input=exposition,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def samples(exposition: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(exposition)
        for s in family.samples
    }


def test_metrics_after_requests_and_an_open_stream_pass_promtool(live, floor, sse, promtool):
    floor.issue(0)
    reader = open_screen(live, floor, sse)
    reader.next("snapshot")
    floor.issue(1)
    reader.next("queue")
    httpx.get(f"{live.url}/healthz")
    httpx.get(f"{live.url}/no-such-page")
    response = httpx.get(f"{live.url}/metrics")
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    checked = promtool_check(promtool, response.text)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.strip() == "" and checked.stderr.strip() == ""


def test_closed_streams_leave_the_open_gauge(live, floor, sse):
    reader = open_screen(live, floor, sse)
    reader.next("snapshot")
    reader.close()
    floor.issue(0)  # the reader notices it was closed when the next event arrives
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        got = samples(httpx.get(f"{live.url}/metrics").text)
        if got[("qlink_sse_open_connections", ())] == 0:
            break
        time.sleep(0.05)
    assert got[("qlink_sse_open_connections", ())] == 0
    assert got[("qlink_sse_connections_total", ())] == 1


def test_metrics_answer_and_pass_promtool_while_the_database_is_down(tmp_path, promtool):
    broken = Database.from_url("postgresql+psycopg://nobody@127.0.0.1:1/none")
    app = create_app(settings_for(broken, tmp_path), database=broken)
    client = TestClient(app)  # no lifespan: the stream service needs a database to start
    response = client.get("/metrics")
    assert response.status_code == 200
    got = samples(response.text)
    assert got[("qlink_db_up", ())] == 0
    assert not any(name == "qlink_queue_depth" for name, _ in got)  # unknown, not zero
    checked = promtool_check(promtool, response.text)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_openmetrics_is_served_when_the_scraper_asks_for_it(db, tmp_path):
    with TestClient(create_app(settings_for(db, tmp_path), database=db)) as client:
        response = client.get("/metrics", headers={"accept": "application/openmetrics-text"})
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert response.text.endswith("# EOF\n")


def test_every_serve_worker_reports_all_requests_and_cleans_up(db, tmp_path, promtool):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "QLINK_DATABASE_URL": db.engine.url.render_as_string(hide_password=False),
        "QLINK_SECRET_KEY": SECRET,
        "QLINK_DATA_KEY": "k" * 43,
        "QLINK_VAR_DIR": str(tmp_path),
        "QLINK_HOME": str(tmp_path),
        "TMPDIR": str(tmp_path),  # so the test can see the run's metrics directory
    }
    env.pop(MULTIPROC_ENV, None)
    command = [sys.executable, "-m", "qlink", "serve", "--workers", "2", "--port", str(port)]
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    try:
        _wait_until_up(url, server)
        for _ in range(30):  # a new connection each time, so both workers take some
            assert httpx.get(f"{url}/healthz").status_code == 200
        (run_dir,) = tmp_path.glob("qlink-metrics-*")
        pids = {int(f.stem.rsplit("_", 1)[1]) for f in run_dir.glob("counter_*.db")}
        assert len(pids) == 2, pids
        for _ in range(6):  # whichever worker answers, it reports both workers' requests
            text = httpx.get(f"{url}/metrics").text
            healthz = (("method", "GET"), ("route", "/healthz"), ("status", "2xx"))
            assert samples(text)[("qlink_http_requests_total", healthz)] == 30
        checked = promtool_check(promtool, text)
        assert checked.returncode == 0, checked.stdout + checked.stderr
    finally:
        server.send_signal(signal.SIGINT)
        assert server.wait(timeout=30) == 0
    assert not list(tmp_path.glob("qlink-metrics-*"))


def _wait_until_up(url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert server.poll() is None, "qlink serve exited"
        try:
            httpx.get(f"{url}/metrics", timeout=1)  # not /healthz, whose requests are counted
        except httpx.TransportError:
            time.sleep(0.2)
        else:
            return
    raise AssertionError("qlink serve did not start")
