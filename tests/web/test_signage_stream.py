"""The TV stream: snapshot on connect, every committed event after it, replay, filter, isolation."""

from __future__ import annotations

from tests.web.conftest import Floor, SseReader


def screen(live, floor: Floor, query: str = "") -> str:
    return f"{live.url}/signage/{floor.clinic.tenant.slug}.main/events{query}"


def open_screen(live, floor: Floor, sse, query: str = "", headers=None) -> SseReader:
    reader = SseReader(screen(live, floor, query), headers)
    sse.append(reader)
    assert reader.status == 200
    return reader


def test_connect_sends_snapshot_of_branch_queues(live, floor, sse):
    floor.issue(0)
    floor.issue(1)
    floor.call()
    reader = open_screen(live, floor, sse)
    snap = reader.next("snapshot")
    board = snap.data["board"]
    lanes = {lane["doctor"]: lane for lane in board["lanes"]}
    asha = lanes["Dr. Asha Rao"]
    assert [t["code"] for t in asha["serving"]] == ["GEN-001"]
    assert asha["serving"][0]["name"] == "Ravi S."
    assert [t["code"] for t in asha["next"]] == ["GEN-002"]
    assert asha["next"][0]["name"] == "Meena I."
    assert board["calls"][0]["code"] == "GEN-001"
    assert board["calls"][0]["room"] == "Room 1"
    assert snap.id == str(snap.data["cursor"])


def test_each_committed_event_arrives_with_its_id_and_lane_state(live, floor, sse):
    reader = open_screen(live, floor, sse)
    start = int(reader.next("snapshot").id)
    floor.issue(0)
    issued = reader.next("queue")
    assert int(issued.id) > start
    update = issued.data["update"]
    assert update["type"] == "TokenIssued"
    assert update["token"]["code"] == "GEN-001"
    assert update["lanes"][0]["next"][0]["code"] == "GEN-001"
    floor.call()
    called = reader.next("queue")
    assert int(called.id) > int(issued.id)
    call = called.data["update"]["call"]
    assert (call["code"], call["name"], call["room"]) == ("GEN-001", "Ravi S.", "Room 1")
    assert call["doctor"] == "Dr. Asha Rao"
    lane = called.data["update"]["lanes"][0]
    assert lane["serving"][0]["code"] == "GEN-001" and lane["next"] == []


def test_reconnect_with_last_event_id_replays_exactly_the_missed_events(live, floor, sse):
    floor.issue(0)
    first = open_screen(live, floor, sse)
    seen = int(first.next("snapshot").id)
    first.close()
    floor.issue(1)
    floor.call()
    floor.call()
    again = open_screen(live, floor, sse, headers={"Last-Event-ID": str(seen)})
    events = again.drain()
    replayed = [e for e in events if e.type == "queue"]
    assert all(e.data["replay"] for e in replayed)
    assert [(e.data["update"]["type"], e.data["update"]["token"]["code"]) for e in replayed] == [
        ("TokenIssued", "GEN-002"),
        ("TokenCalled", "GEN-001"),
        ("TokenCalled", "GEN-002"),
    ]
    ids = [int(e.id) for e in replayed]
    assert ids == sorted(set(ids)) and ids[0] > seen
    assert events[-1].type == "snapshot" and int(events[-1].id) == ids[-1]
    live_lane = events[-1].data["board"]["lanes"][0]
    assert [t["code"] for t in live_lane["serving"]] == ["GEN-002", "GEN-001"]


def test_replay_sends_only_events_after_last_event_id_then_a_snapshot(live, floor, sse):
    floor.issue(0)
    first = open_screen(live, floor, sse)
    seen = int(first.next("snapshot").id)
    first.close()
    floor.issue(1)
    floor.call()
    again = open_screen(live, floor, sse, query=f"?last_event_id={seen}")
    events = again.drain()
    kinds = [(e.type, e.data["update"]["type"] if e.type == "queue" else None) for e in events]
    assert kinds == [("queue", "TokenIssued"), ("queue", "TokenCalled"), ("snapshot", None)]
    snap = events[-1]
    assert int(snap.id) == int(events[1].id)
    assert snap.data["board"]["calls"][0]["code"] == "GEN-001"
