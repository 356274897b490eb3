"""Measure outbox commit → worker pick-up latency at 2 messages/s (run by hand, not in CI).

    .venv/bin/python -m tests.workers.bench_pickup [--seconds 20]

Two set-ups on a fresh PostgreSQL database against the fake Graph server:
- ``redis``: a real ``qlink worker`` process (Dramatiq on Redis, 100 ms worker timeout, the
  200 ms sweep ticker) nudged after each commit with ``send_outbox.send(id)``;
- ``in-process``: the relay thread ``qlink serve`` runs without Redis, nudged after commit.
Pick-up = ``outbox.claimed_at`` − the instant just before the commit.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import select

from core.messaging.messages import SEND, Recipient, Text, to_payload
from db.engine import ALL_TENANTS, Database, make_engine
from db.migrate import upgrade
from db.models import OutboxMessage
from qlink.settings import Settings
from tests.conftest import _new_postgresql_database
from tests.fakes.graph import FakeGraph
from tests.support import TEST_DATA_KEY
from tests.workers.outbound_world import PHONE, build_world

ROOT = Path(__file__).resolve().parents[2]
REDIS = os.environ.get("QLINK_TEST_REDIS_URL", "redis://127.0.0.1:6379/14")


def _write(db: Database, tenant_id: int, recipient: Recipient, i: int) -> int:
    with db.transaction(ALL_TENANTS) as session:
        now = dt.datetime.now(dt.UTC)
        row = OutboxMessage(
            tenant_id=tenant_id,
            kind=SEND,
            payload=to_payload(recipient, Text(f"bench {i}")),
            status="pending",
            attempts=0,
            available_at=now,
            created_at=now,
        )
        session.add(row)
        session.flush()
        return row.id


def _latencies(db: Database, ids: list[int], timeout: float = 30) -> list[float]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with db.transaction(ALL_TENANTS, readonly=True) as session:
            rows = session.execute(
                select(
                    OutboxMessage.created_at, OutboxMessage.claimed_at, OutboxMessage.status
                ).where(OutboxMessage.id.in_(ids))
            ).all()
        if all(r.status == "sent" for r in rows):
            return [(r.claimed_at - r.created_at).total_seconds() * 1000 for r in rows]
        time.sleep(0.2)
    raise SystemExit("not every message was sent in time")


def _run(db, tenant_id, recipient, seconds, nudge) -> list[float]:
    ids = []
    for i in range(int(seconds * 2)):
        started = time.monotonic()
        outbox_id = _write(db, tenant_id, recipient, i)
        nudge(outbox_id)
        ids.append(outbox_id)
        time.sleep(max(0.0, 0.5 - (time.monotonic() - started)))
    return _latencies(db, ids)


def _report(name: str, values: list[float]) -> None:
    q = statistics.quantiles(values, n=20)
    print(
        f"{name:>11}: n={len(values)} p50={statistics.median(values):.1f} ms "
        f"p95={q[18]:.1f} ms max={max(values):.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()
    fake = FakeGraph().start()
    with _new_postgresql_database() as url:
        db = Database(make_engine(url))
        upgrade(db.engine)
        with db.transaction(ALL_TENANTS) as session:
            world = build_world(session, slug="bench")
        recipient = Recipient(PHONE[1:], world.phone_number_id, wa_id=PHONE[1:])
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("QLINK_", "WHATSAPP_"))},
            "QLINK_DATABASE_URL": url,
            "QLINK_HOME": str(ROOT / "var" / "bench-pickup"),
            "QLINK_DATA_KEY": TEST_DATA_KEY,
            "QLINK_REDIS_URL": REDIS,
            "WHATSAPP_GRAPH_URL": fake.url,
            "WHATSAPP_ACCESS_TOKEN": "t",
        }
        # Redis broker + a real worker process
        worker = subprocess.Popen(
            [sys.executable, "-m", "qlink", "worker", "--processes", "1", "--threads", "2"],
            cwd=ROOT,
            env=env,
            stderr=subprocess.DEVNULL,
        )
        os.environ.update(QLINK_REDIS_URL=REDIS)
        from workers.broker import setup_broker

        broker = setup_broker(Settings.from_env(env))
        broker.flush_all()
        from workers.actors import send_outbox

        time.sleep(3)  # let the dramatiq processes boot before measuring
        try:
            redis_ms = _run(db, world.clinic.tenant_id, recipient, args.seconds, send_outbox.send)
        finally:
            worker.terminate()
            worker.wait(30)
        # the in-process relay of `qlink serve`
        from workers.outbox import BackgroundRelay

        settings = Settings.from_env({**env, "QLINK_REDIS_URL": ""})
        relay = BackgroundRelay.for_settings(settings, db)
        relay.start()
        try:
            local_ms = _run(
                db, world.clinic.tenant_id, recipient, args.seconds, lambda _: relay.nudge()
            )
            idle_ms = _run(db, world.clinic.tenant_id, recipient, args.seconds / 2, lambda _: None)
        finally:
            relay.stop()
        db.dispose()
    fake.stop()
    _report("redis", redis_ms)
    _report("in-process", local_ms)
    _report("no nudge", idle_ms)


if __name__ == "__main__":
    main()
