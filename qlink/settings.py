"""Settings: one frozen object built from the environment at the entry point."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEMO_APP_SECRET = "qlink-demo-app-secret"
DEMO_VERIFY_TOKEN = "qlink-demo-verify-token"


class ConfigError(ValueError):
    """The environment describes a configuration QLink cannot run with."""


@dataclass(frozen=True)
class Settings:
    database_url: str
    redis_url: str | None
    secret_key: str
    data_key: str
    timezone: str
    whatsapp_app_secret: str
    whatsapp_verify_token: str
    whatsapp_access_token: str | None
    whatsapp_graph_url: str | None
    whatsapp_flows_private_key: str | None
    var_dir: Path

    @property
    def embedded(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def outbound_whatsapp(self) -> bool:
        return bool(self.whatsapp_access_token and self.whatsapp_graph_url)

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, *, var_dir: Path | None = None
    ) -> Settings:
        """Build settings from ``env`` (default ``os.environ``); create local secrets if absent."""
        env = os.environ if env is None else env
        var = Path(var_dir or env.get("QLINK_VAR_DIR", "var")).resolve()
        url = env.get("QLINK_DATABASE_URL") or f"sqlite:///{var / 'qlink.db'}"
        tz = env.get("QLINK_TIMEZONE", "Asia/Kolkata")
        _check_timezone(tz)
        return cls(
            database_url=_normalise_url(url),
            redis_url=env.get("QLINK_REDIS_URL") or None,
            secret_key=env.get("QLINK_SECRET_KEY") or _local_secret(var, "secret_key"),
            data_key=env.get("QLINK_DATA_KEY") or _local_secret(var, "data_key"),
            timezone=tz,
            whatsapp_app_secret=env.get("WHATSAPP_APP_SECRET", DEMO_APP_SECRET),
            whatsapp_verify_token=env.get("WHATSAPP_VERIFY_TOKEN", DEMO_VERIFY_TOKEN),
            whatsapp_access_token=env.get("WHATSAPP_ACCESS_TOKEN") or None,
            whatsapp_graph_url=env.get("WHATSAPP_GRAPH_URL") or None,
            whatsapp_flows_private_key=env.get("WHATSAPP_FLOWS_PRIVATE_KEY") or None,
            var_dir=var,
        )


def _check_timezone(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"QLINK_TIMEZONE={name!r} is not an IANA timezone") from exc


def _normalise_url(url: str) -> str:
    # Plain postgresql:// would pick psycopg2; QLink ships psycopg 3.
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    if not url.startswith(("sqlite", "postgresql+psycopg")):
        raise ConfigError("QLINK_DATABASE_URL must be a sqlite:// or postgresql:// URL")
    return url


def _local_secret(var: Path, name: str) -> str:
    """Read a secret from ``var/``, generating it (mode 0600) on first use."""
    path = var / name
    if path.exists():
        return path.read_text().strip()
    var.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process won the first run
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(value + "\n")
    return value
