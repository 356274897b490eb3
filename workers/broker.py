"""Choose the Dramatiq broker explicitly, before any actor module is imported.

Redis when ``QLINK_REDIS_URL`` is set, else an in-process ``StubBroker``. Dramatiq silently
builds a default broker when an actor is declared first; ``workers.actors`` refuses to import
until ``setup_broker`` ran, so a wrong import order fails loudly instead.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from dataclasses import dataclass

import dramatiq
from dramatiq.brokers.stub import StubBroker

from core.messaging.relay import LEASE
from core.patients.phones import PhoneVault
from db.engine import Database
from qlink.settings import Settings
from workers.graph import GraphClient
from workers.outbox import Relay
from workers.pacing import Pacer

ACTOR_MODULES = ("workers.actors",)
WORKER_TIMEOUT_MS = "100"  # SPEC §7: actors pick up messages within 100 ms (default 1000)
LEASE_ENV = "qlink_relay_lease"  # seconds; set by ``qlink worker --lease`` for its processes


class BrokerOrderError(RuntimeError):
    """An actor module was imported before the broker was chosen."""


@dataclass
class Runtime:
    """What the actors of this process use: one engine, one Graph client, one relay."""

    broker: dramatiq.Broker
    settings: Settings
    database: Database | None = None
    relay: Relay | None = None

    def get_relay(self) -> Relay:
        if self.relay is None:
            if not self.settings.outbound_whatsapp:
                raise RuntimeError("WHATSAPP_ACCESS_TOKEN and WHATSAPP_GRAPH_URL are not set")
            self.database = Database.from_url(self.settings.database_url)
            graph = GraphClient(
                str(self.settings.whatsapp_graph_url), str(self.settings.whatsapp_access_token)
            )
            lease = float(os.environ.get(LEASE_ENV) or LEASE.total_seconds())
            self.relay = Relay(
                self.database,
                graph.post,
                PhoneVault(self.settings.data_key),
                upload=graph.upload_media,
                pacer=Pacer.for_redis_url(self.settings.redis_url),
                lease=dt.timedelta(seconds=lease),
            )
        return self.relay


_runtime: Runtime | None = None


def setup_broker(settings: Settings) -> dramatiq.Broker:
    """Install the broker for ``settings``; raise if an actor module was imported first."""
    global _runtime
    early = [m for m in ACTOR_MODULES if m in sys.modules]
    if early and _runtime is None:
        raise BrokerOrderError(f"{early} imported before workers.broker.setup_broker()")
    os.environ.setdefault("dramatiq_worker_timeout", WORKER_TIMEOUT_MS)
    if settings.redis_url:
        from dramatiq.brokers.redis import RedisBroker

        broker: dramatiq.Broker = RedisBroker(url=settings.redis_url)
    else:
        broker = StubBroker()
        broker.emit_after("process_boot")
    dramatiq.set_broker(broker)
    _runtime = Runtime(broker, settings)
    return broker


def runtime() -> Runtime:
    if _runtime is None:
        raise BrokerOrderError("call workers.broker.setup_broker(settings) before using actors")
    return _runtime
