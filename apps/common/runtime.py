"""Process-wide resources of the Streamlit apps: settings, database and phone vault."""

from __future__ import annotations

import os
from dataclasses import dataclass

import streamlit as st

from core.patients import PhoneVault
from db.engine import Database
from db.migrate import pending
from qlink.keys import check_data_key
from qlink.settings import ConfigError, Settings
from workers.projector import Projector

# The variables that shape the resources; a change (a test pointing at a fresh database)
# builds a new set instead of reusing the cached one.
_ENV_KEYS = (
    "QLINK_DATABASE_URL",
    "QLINK_HOME",
    "QLINK_VAR_DIR",
    "QLINK_DATA_KEY",
    "QLINK_SECRET_KEY",
    "QLINK_TIMEZONE",
)


LOCAL_SERVICE = "http://localhost:8000"  # `qlink serve`'s default when no public URL is set


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    db: Database
    vault: PhoneVault

    @property
    def service_url(self) -> str:
        """The service as patients' phones and clinic websites reach it (links, embeds)."""
        return self.settings.public_url or LOCAL_SERVICE


class NotReady(Exception):
    """The configuration or the database is not usable yet; the message says what to do."""


def runtime() -> Runtime:
    """Return this process's runtime, or show why there is none and stop the script."""
    try:
        return load_runtime()
    except NotReady as exc:
        st.error(str(exc))
        st.stop()


def load_runtime() -> Runtime:
    """Return this process's runtime (shared with the sign-in routes); ``NotReady`` if none."""
    return _build(tuple(os.environ.get(name, "") for name in _ENV_KEYS))


@st.cache_resource(show_spinner=False)
def _build(env_key: tuple[str, ...]) -> Runtime:
    # Exceptions are not cached, so fixing the cause and reloading the page recovers.
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        raise NotReady(f"Configuration error: {exc}") from exc
    database = Database.from_url(settings.database_url)
    if pending(database.engine):
        database.dispose()
        raise NotReady("The database schema is not up to date. Run `qlink db upgrade` first.")
    try:
        check_data_key(database, settings)
    except ConfigError as exc:  # a foreign data key: nothing may be written with it
        database.dispose()
        raise NotReady(f"Configuration error: {exc}") from exc
    Projector(database, background=True).install()  # stored ETAs re-projected after commit
    return Runtime(settings, database, PhoneVault(settings.data_key))
