"""`qlink demo` runs the service with the WhatsApp simulator, sending through its fake Graph API."""

from __future__ import annotations

from qlink import launch
from qlink.settings import Settings
from webhooks.simulator import check


def _settings(tmp_path, **env: str) -> Settings:
    base = {"QLINK_DATABASE_URL": f"sqlite:///{tmp_path / 'q.db'}", "QLINK_DATA_KEY": "k" * 43}
    return Settings.from_env({**base, **env}, var_dir=tmp_path)


def test_the_demo_service_points_whatsapp_at_its_own_simulator(tmp_path):
    env = launch._service_env(_settings(tmp_path), "0.0.0.0", 8000)

    assert env["QLINK_WHATSAPP_SIMULATOR"] == "1"
    assert env["WHATSAPP_GRAPH_URL"] == "http://127.0.0.1:8000/simulator/graph/v24.0"
    served = Settings.from_env(env, var_dir=tmp_path)
    assert served.whatsapp_simulator and served.outbound_whatsapp
    check(served)  # the demo's own fake Graph API is allowed


def test_a_demo_with_a_real_token_keeps_its_graph_url_and_no_simulator(tmp_path):
    real = _settings(
        tmp_path,
        WHATSAPP_ACCESS_TOKEN="EAAG-real-looking",
        WHATSAPP_GRAPH_URL="https://graph.facebook.com/v24.0",
    )

    env = launch._service_env(real, "0.0.0.0", 8000)

    assert env.get("QLINK_WHATSAPP_SIMULATOR") != "1"
    assert env.get("WHATSAPP_GRAPH_URL") != "http://127.0.0.1:8000/simulator/graph/v24.0"


def test_the_demo_prints_the_simulator_url(capsys, monkeypatch):
    monkeypatch.setattr(launch, "lan_addresses", lambda: ["192.168.1.20"])

    launch.print_urls("0.0.0.0")

    out = capsys.readouterr().out
    assert "http://localhost:8000/simulator" in out
    assert "http://192.168.1.20:8000/simulator" in out
