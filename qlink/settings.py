"""Settings: one frozen object built from the environment at the entry point."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import platformdirs

from core.messaging.flows.crypto import generate_private_key_pem

DEMO_APP_SECRET = "qlink-demo-app-secret"
DEMO_VERIFY_TOKEN = "qlink-demo-verify-token"
DATA_KEY_FILE = "data_key"
FLOWS_KEY_FILE = "whatsapp_flows_private_key.pem"
_TRUE = ("1", "true", "yes", "on")


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
    home: Path
    data_key_file: Path | None  # None when the key came from QLINK_DATA_KEY
    whatsapp_simulator: bool = False  # QLINK_WHATSAPP_SIMULATOR=1 (set by `qlink demo`)
    public_url: str = ""  # QLINK_PUBLIC_URL: the service as patients' phones reach it (links)

    @property
    def var_dir(self) -> Path:
        """The data home under its former name."""
        return self.home

    @property
    def data_key_source(self) -> str:
        """Say where the data key came from, for messages that tell the user what to change."""
        return "QLINK_DATA_KEY" if self.data_key_file is None else str(self.data_key_file)

    @property
    def embedded(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def outbound_whatsapp(self) -> bool:
        return bool(self.whatsapp_access_token and self.whatsapp_graph_url)

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str] | None = None,
        *,
        home: Path | None = None,
        var_dir: Path | None = None,
    ) -> Settings:
        """Build settings from ``env`` (default ``os.environ``); create local secrets if absent."""
        env = os.environ if env is None else env
        chosen = home or var_dir
        var = Path(chosen).resolve() if chosen else resolve_home(env)
        url = env.get("QLINK_DATABASE_URL") or f"sqlite:///{var / 'qlink.db'}"
        tz = env.get("QLINK_TIMEZONE", "Asia/Kolkata")
        _check_timezone(tz)
        return cls(
            database_url=_normalise_url(url),
            redis_url=env.get("QLINK_REDIS_URL") or None,
            secret_key=env.get("QLINK_SECRET_KEY") or local_secret(var, "secret_key"),
            data_key=env.get("QLINK_DATA_KEY") or local_secret(var, DATA_KEY_FILE),
            timezone=tz,
            whatsapp_app_secret=env.get("WHATSAPP_APP_SECRET", DEMO_APP_SECRET),
            whatsapp_verify_token=env.get("WHATSAPP_VERIFY_TOKEN", DEMO_VERIFY_TOKEN),
            whatsapp_access_token=env.get("WHATSAPP_ACCESS_TOKEN") or None,
            whatsapp_graph_url=env.get("WHATSAPP_GRAPH_URL") or None,
            whatsapp_flows_private_key=env.get("WHATSAPP_FLOWS_PRIVATE_KEY")
            or (str(var / FLOWS_KEY_FILE) if url.startswith("sqlite") else None),
            home=var,
            data_key_file=None if env.get("QLINK_DATA_KEY") else var / DATA_KEY_FILE,
            whatsapp_simulator=env.get("QLINK_WHATSAPP_SIMULATOR", "").lower() in _TRUE,
            public_url=env.get("QLINK_PUBLIC_URL", "").rstrip("/"),
        )


def resolve_home(env: Mapping[str, str]) -> Path:
    """Return the data home: ``QLINK_HOME``, else the documented default; never the cwd."""
    chosen = env.get("QLINK_HOME") or env.get("QLINK_VAR_DIR")  # the latter: deprecated alias
    if chosen:
        return Path(chosen).expanduser().resolve()
    return default_home()


def default_home(checkout: Path | None = None) -> Path:
    """``var/`` beside a source checkout, else the user data directory of an installed package.

    ``checkout`` is the folder holding the ``qlink`` package (found from this file by default).
    """
    checkout = checkout or Path(__file__).resolve().parent.parent
    if (checkout / "pyproject.toml").is_file() and (checkout / "db" / "migrations").is_dir():
        return checkout / "var"
    return platformdirs.user_data_path("qlink", appauthor=False)


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


def flows_private_key_pem(settings: Settings) -> bytes | None:
    """The Flows endpoint's RSA key (PEM); in embedded mode generated into the data home.

    Generated on first use rather than in ``from_env``: RSA generation takes tens of
    milliseconds and most processes never answer a Flow. ``None`` when production sets no key.
    """
    if settings.whatsapp_flows_private_key is None:
        return None
    path = Path(settings.whatsapp_flows_private_key)
    if path.exists() or not settings.embedded or path != settings.home / FLOWS_KEY_FILE:
        return path.read_bytes()
    settings.home.mkdir(parents=True, exist_ok=True)
    pem = generate_private_key_pem()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process won the first run
        return path.read_bytes()
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    return pem


def local_secret(var: Path, name: str) -> str:
    """Read a secret from the data home, generating it (mode 0600) on first use."""
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
