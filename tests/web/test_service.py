"""Health, metrics, request limits and headers of the service."""

from __future__ import annotations

import httpx
from starlette.testclient import TestClient

from qlink.asgi import create_app
from tests.web.conftest import settings_for


def test_healthz_reports_database_and_migrations(db, tmp_path):
    with TestClient(create_app(settings_for(db, tmp_path), database=db)) as client:
        response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["migration"] == body["head"]


def test_healthz_is_503_when_the_database_is_unreachable(tmp_path):
    from db.engine import Database

    broken = Database.from_url("postgresql+psycopg://nobody@127.0.0.1:1/none")
    settings = settings_for(broken, tmp_path)
    app = create_app(settings, database=broken)
    client = TestClient(app)  # no lifespan: the stream service needs a database to start
    response = client.get("/healthz")
    assert response.status_code == 503 and response.json()["database"] == "unreachable"


def test_metrics_expose_requests_streams_queue_depth_and_lag(live, floor, sse):
    from tests.web.test_metrics import samples
    from tests.web.test_signage_stream import open_screen

    floor.issue(0)
    reader = open_screen(live, floor, sse)
    reader.next("snapshot")
    floor.issue(1)
    reader.next("queue")
    httpx.get(f"{live.url}/healthz")
    got = samples(httpx.get(f"{live.url}/metrics").text)
    assert got[("qlink_sse_open_connections", ())] == 1
    assert got[("qlink_sse_connections_total", ())] == 1
    assert got[("qlink_queue_event_lag_seconds_count", ())] >= 1
    assert got[("qlink_queue_event_horizon", ())] >= 1
    assert got[("qlink_queue_depth", (("status", "waiting"),))] >= 2
    assert got[("qlink_db_up", ())] == 1
    events = (("method", "GET"), ("route", "/signage/{branch}/events"), ("status", "2xx"))
    assert got[("qlink_http_requests_total", events)] == 1
    health = (("le", "+Inf"), ("route", "/healthz"))
    assert got[("qlink_http_request_duration_seconds_bucket", health)] == 1


def test_oversized_request_bodies_are_refused(db, tmp_path):
    with TestClient(create_app(settings_for(db, tmp_path), database=db)) as client:
        response = client.post("/webhooks/whatsapp", content=b"x" * (1024 * 1024 + 1))
    assert response.status_code == 413


def test_hsts_only_behind_tls(db, tmp_path):
    app = create_app(settings_for(db, tmp_path), database=db)
    with TestClient(app, base_url="https://qlink.example") as client:
        response = client.get("/healthz")
    assert response.headers["strict-transport-security"].startswith("max-age=")


def test_shutdown_ends_open_streams_promptly(db, tmp_path, sse):
    from tests.web.conftest import LiveServer, free_port, make_floor
    from tests.web.test_signage_stream import open_screen

    floor = make_floor(db)
    server = LiveServer(create_app(settings_for(db, tmp_path), database=db), free_port()).start()
    reader = open_screen(server, floor, sse)
    reader.next("snapshot")
    server.stop()  # asserts the server thread ended
    assert reader.drain(quiet=2.0) == []
