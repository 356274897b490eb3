"""docker-compose.yml as ``docker-compose config`` resolves it: services, order, health, env names.

``docker-compose`` is Debian's package (``.ci/run`` installs it); these tests skip locally
without it and fail under CI=true.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from qlink import cli
from qlink.settings import Settings
from tests.conftest import CI

ROOT = Path(__file__).resolve().parents[2]
REQUIRED = {
    "POSTGRES_PASSWORD": "pg-pass",
    "QLINK_SECRET_KEY": "secret-key",
    "QLINK_DATA_KEY": "data-key",
    "WHATSAPP_APP_SECRET": "app-secret",
    "WHATSAPP_VERIFY_TOKEN": "verify-token",
}
QLINK_SERVICES = {"migrate", "service", "worker", "ui"}


@pytest.fixture(scope="module")
def compose() -> str:
    path = shutil.which("docker-compose")
    if path is None:
        if CI:
            pytest.fail("docker-compose not found (required when CI=true)", pytrace=False)
        pytest.skip("docker-compose not found (apt-get install docker-compose)")
    return path


def resolved(compose: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("QLINK_", "WHATSAPP_"))}
    clean.pop("POSTGRES_PASSWORD", None)
    return subprocess.run(
        [
            compose,
            "--project-directory",
            str(ROOT),
            "-f",
            str(ROOT / "docker-compose.yml"),
            "config",
        ],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def services(compose: str) -> dict[str, Any]:
    done = resolved(compose, **REQUIRED)
    assert done.returncode == 0, done.stderr
    parsed: dict[str, Any] = yaml.safe_load(done.stdout)["services"]
    return parsed


def known_names() -> set[str]:
    """The variables ``Settings.from_env`` reads, recorded as it reads them."""

    class Recording(dict[str, str]):
        asked: set[str]

        def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
            self.asked.add(key)
            return super().get(key, default)

    env = Recording(
        QLINK_DATABASE_URL="postgresql://x@db/x", QLINK_SECRET_KEY="s", QLINK_DATA_KEY="d"
    )
    env.asked = set()
    Settings.from_env(env)  # no home given: it reads QLINK_HOME too (secrets set, nothing written)
    return env.asked


def test_the_stack_has_database_broker_migrations_service_workers_and_ui(services):
    assert set(services) == {"postgres", "redis"} | QLINK_SERVICES
    assert services["migrate"]["command"] == ["qlink", "db", "upgrade"]
    assert services["service"]["command"][:4] == ["qlink", "serve", "--host", "0.0.0.0"]
    assert services["worker"]["command"] == ["qlink", "worker"]
    assert services["ui"]["command"][:4] == ["qlink", "ui", "--host", "0.0.0.0"]
    for name in QLINK_SERVICES:
        assert services[name]["build"]["context"] == str(ROOT), name
        assert "qlink-home:/app/var" in services[name]["volumes"][0], name


def test_every_command_is_one_the_cli_accepts(services):
    parser = cli._parser()
    for name in QLINK_SERVICES:
        command = services[name]["command"]
        assert command[0] == "qlink"
        args = parser.parse_args(command[1:])
        assert getattr(args, "handler", None) is not None, name


def test_migrations_run_after_postgres_is_healthy_and_everything_after_them(services):
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert services["migrate"]["restart"] == "no"
    for name in ("service", "worker", "ui"):
        depends = services[name]["depends_on"]
        assert depends["migrate"] == {"condition": "service_completed_successfully"}, name
        assert depends["redis"] == {"condition": "service_healthy"}, name


def test_long_running_services_have_healthchecks(services):
    for name in ("postgres", "redis", "service", "worker", "ui"):
        check = services[name]["healthcheck"]
        assert check["test"][0] in ("CMD", "CMD-SHELL"), name
    assert "/healthz" in " ".join(services["service"]["healthcheck"]["test"])
    assert "/_stcore/health" in " ".join(services["ui"]["healthcheck"]["test"])
    assert services["service"]["ports"][0]["target"] == 8000
    assert services["ui"]["ports"][0]["target"] == 8501


def test_every_qlink_and_whatsapp_variable_is_one_the_settings_read(services):
    known = known_names()
    assert {"QLINK_HOME", "QLINK_DATABASE_URL", "WHATSAPP_FLOWS_PRIVATE_KEY"} <= known
    for name in QLINK_SERVICES:
        env = services[name]["environment"]
        ours = {k for k in env if k.startswith(("QLINK_", "WHATSAPP_"))}
        assert ours <= known, (name, sorted(ours - known))
        assert env["QLINK_DATABASE_URL"].startswith("postgresql://postgres:pg-pass@postgres:5432/")
        assert env["QLINK_REDIS_URL"].startswith("redis://redis:6379/")
        Settings.from_env(env, home=Path("/nonexistent-qlink-home"))  # they parse as settings


def test_secrets_are_required_not_defaulted(compose):
    for missing in REQUIRED:
        env = {k: v for k, v in REQUIRED.items() if k != missing}
        done = resolved(compose, **env)
        assert done.returncode != 0, missing
        assert missing in done.stderr, missing
