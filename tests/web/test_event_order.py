"""Events that commit out of id order (PostgreSQL) reach the screen exactly once, in id order."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import insert

from core.signage.feed import Horizon
from db.models import QueueEvent
from tests.web.test_signage_stream import open_screen


def _event(floor, token_code: str) -> dict[str, object]:
    return {
        "tenant_id": floor.tenant_id,
        "branch_id": floor.clinic.branch.id,
        "department_id": floor.clinic.department.id,
        "doctor_id": floor.doctors[0].id,
        "token_id": None,
        "type": "DelayAnnounced",  # a type this screen code has never heard of
        "actor_id": None,
        "payload": {"code": token_code},
        "created_at": dt.datetime.now(dt.UTC),
    }


def test_horizon_waits_for_a_gap_then_gives_up_after_the_timeout():
    horizon = Horizon(10, gap_timeout=1.5)
    assert horizon.advance([11, 13], now=0.0) == [11]
    assert horizon.advance([13], now=1.0) == []
    assert horizon.advance([12, 13, 14], now=1.2) == [12, 13, 14]
    assert horizon.advance([16], now=2.0) == []
    assert horizon.advance([16, 17], now=3.6) == [16, 17]
    assert horizon.late == {15: 3.6}


def test_sqlite_horizon_never_waits():
    horizon = Horizon(0, gap_timeout=0.0)
    assert horizon.advance([2, 5], now=0.0) == [2, 5]
    assert horizon.late == {}


@pytest.mark.postgres_only
def test_events_committed_in_order_two_then_one_arrive_once_each(pg_db, tmp_path, sse):
    from qlink.asgi import create_app
    from tests.web.conftest import LiveServer, free_port, make_floor, settings_for

    floor = make_floor(pg_db)
    # Earlier tests roll back transactions that drew event ids, leaving the sequence ahead of
    # the last committed event; a committed marker makes the next id follow the snapshot's.
    with pg_db.transaction(floor.tenant_id) as s:
        s.execute(insert(QueueEvent).values(**_event(floor, "marker")))
    app = create_app(settings_for(pg_db, tmp_path), database=pg_db, gap_timeout=30)
    live = LiveServer(app, free_port()).start()
    try:
        reader = open_screen(live, floor, sse)
        start = int(reader.next("snapshot").id)
        first_inserted = threading.Event()
        release_first = threading.Event()

        def slow_writer() -> None:
            with pg_db.transaction(floor.tenant_id) as s:
                s.execute(insert(QueueEvent).values(**_event(floor, "first")))
                first_inserted.set()
                release_first.wait(20)

        writer = threading.Thread(target=slow_writer)
        writer.start()
        assert first_inserted.wait(20)
        with pg_db.transaction(floor.tenant_id) as s:  # takes the next id, commits first
            s.execute(insert(QueueEvent).values(**_event(floor, "second")))
        held_back = reader.drain(quiet=1.0)
        release_first.set()
        writer.join(20)
        first = reader.next("queue")
        second = reader.next("queue")
        got = [(int(e.id), e.data["update"]["type"]) for e in (first, second)]
        assert held_back == []
        assert got == [(start + 1, "DelayAnnounced"), (start + 2, "DelayAnnounced")]
        assert reader.drain() == []
        assert [lane["doctor"] for lane in second.data["update"]["lanes"]] == ["Dr. Asha Rao"]
    finally:
        live.stop()
