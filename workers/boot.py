"""The module ``dramatiq`` worker processes load: settings, then the broker, then the actors."""

from __future__ import annotations

from qlink.settings import Settings
from workers.broker import setup_broker

setup_broker(Settings.from_env())

from workers import actors  # noqa: E402,F401  (after the broker, on purpose)
