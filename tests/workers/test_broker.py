"""The broker is chosen explicitly, and importing an actor module first fails loudly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("QLINK_")}
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**base, "QLINK_DATA_KEY": "k", "QLINK_SECRET_KEY": "s", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_importing_actors_before_choosing_a_broker_fails_loudly():
    result = _run("import workers.actors")
    assert result.returncode != 0
    assert "BrokerOrderError" in result.stderr and "setup_broker" in result.stderr


def test_no_redis_url_chooses_the_in_process_stub_broker(tmp_path):
    code = (
        "from qlink.settings import Settings; from workers.broker import setup_broker;"
        "import dramatiq; b = setup_broker(Settings.from_env());"
        "import workers.actors; print(type(dramatiq.get_broker()).__name__,"
        " sorted(b.get_declared_actors()))"
    )
    result = _run(code, QLINK_HOME=str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0] == "StubBroker"
    assert "send_outbox" in result.stdout and "sweep_outbox" in result.stdout


def test_a_redis_url_chooses_redis_with_a_100_ms_worker_timeout(tmp_path):
    code = (
        "import os; from qlink.settings import Settings; from workers.broker import setup_broker;"
        "b = setup_broker(Settings.from_env()); print(type(b).__name__,"
        " os.environ['dramatiq_worker_timeout'])"
    )
    result = _run(code, QLINK_HOME=str(tmp_path), QLINK_REDIS_URL="redis://127.0.0.1:6379/15")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["RedisBroker", "100"]
