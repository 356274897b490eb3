"""The TV stream: snapshot on connect, every committed event after it, replay, filter, isolation."""

from __future__ import annotations

import time

import httpx
from sqlalchemy import func, select

from db.models import QueueEvent
from tests.web.conftest import Event, Floor, SseReader, make_floor


def screen(live, floor: Floor, query: str = "") -> str:
    return f"{live.url}/signage/{floor.clinic.tenant.slug}.main/events{query}"


def open_screen(live, floor: Floor, sse, query: str = "", headers=None) -> SseReader:
    reader = SseReader(screen(live, floor, query), headers)
    sse.append(reader)
    assert reader.status == 200
    return reader


def caught_up_snapshot(live, floor: Floor, sse, timeout: float = 20) -> Event:
    """A snapshot taken once the service has seen the clinic's latest event.

    The service reads events behind a horizon that moves on its poll; under load a screen that
    connects right after a call can get the board just before it (the call then arrives as a
    ``queue`` event, which other tests cover). This test is about what the snapshot holds.
    """
    with floor.db.transaction(floor.tenant_id) as s:
        latest = s.scalar(
            select(func.max(QueueEvent.id)).where(QueueEvent.tenant_id == floor.tenant_id)
        )
    deadline = time.monotonic() + timeout
    while True:
        reader = open_screen(live, floor, sse)
        snap = reader.next("snapshot")
        if int(snap.id or 0) >= latest or time.monotonic() > deadline:
            return snap
        reader.close()
        time.sleep(0.1)


def test_connect_sends_snapshot_of_branch_queues(live, floor, sse):
    floor.issue(0)
    floor.issue(1)
    floor.call()
    snap = caught_up_snapshot(live, floor, sse)
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


def test_department_filter_shows_only_that_departments_events(live, floor, sse):
    from core import tenancy
    from core.queue.issuing import issue_token

    with floor.db.transaction(floor.tenant_id) as s:
        ped = tenancy.create_department(
            s, floor.clinic.system, branch_id=floor.clinic.branch.id, code="PED", name="Paeds"
        )
    gen_screen = open_screen(live, floor, sse, "?dept=gen")
    ped_screen = open_screen(live, floor, sse, "?dept=PED")
    assert gen_screen.next("snapshot").data["board"]["departments"][0]["code"] == "GEN"
    assert [d["code"] for d in ped_screen.next("snapshot").data["board"]["departments"]] == ["PED"]
    with floor.db.transaction(floor.tenant_id) as s:
        issue_token(
            s,
            floor.clinic.receptionist,
            patient_id=floor.patients[3],
            department_id=ped.id,
            kind="walk_in",
        )
    floor.issue(0)
    ped_update = ped_screen.next("queue").data["update"]
    assert ped_update["token"]["code"] == "PED-001"
    assert [p["department_code"] for p in ped_update["pools"]] == ["PED"]
    gen_update = gen_screen.next("queue").data["update"]
    assert gen_update["token"]["code"] == "GEN-001"
    assert all(e.type != "queue" for e in ped_screen.drain())


def test_another_clinics_events_never_reach_the_screen(live, floor, db, sse):
    other = make_floor(db)
    mine = open_screen(live, floor, sse)
    theirs = open_screen(live, other, sse)
    mine.next("snapshot")
    theirs.next("snapshot")
    other.issue(0)
    other.call()
    floor.issue(1)
    update = mine.next("queue").data["update"]
    assert update["token"]["code"] == "GEN-001" and update["token"]["name"] == "Meena I."
    assert mine.drain() == []
    codes = [theirs.next("queue").data["update"]["type"] for _ in range(2)]
    assert codes == ["TokenIssued", "TokenCalled"]
    assert all(e.data["update"]["token"]["name"] != "Meena I." for e in theirs.drain())


def test_unknown_branch_or_department_is_404(live, floor):
    assert httpx.get(f"{live.url}/signage/no-such-branch/events").status_code == 404
    page = httpx.get(f"{live.url}/signage/no-such-branch")
    assert page.status_code == 404 and "Screen not found" in page.text
    bad_dept = httpx.get(screen(live, floor, "?dept=XYZ"))
    assert bad_dept.status_code == 404 and "XYZ" in bad_dept.text


def test_bare_slug_shared_by_two_clinics_asks_for_the_qualified_form(live, floor, db):
    make_floor(db)  # every test clinic's branch is called "main"
    response = httpx.get(f"{live.url}/signage/main")
    assert response.status_code == 404
    assert "use the clinic" in response.text and ".main" in response.text


def test_tv_page_is_plain_html_with_its_own_script_and_strict_csp(live, floor):
    response = httpx.get(f"{live.url}/signage/{floor.clinic.tenant.slug}.main?dept=GEN")
    assert response.status_code == 200
    assert f"/signage/{floor.clinic.tenant.slug}.main/events?dept=GEN" in response.text
    assert '<script src="/static/tv.js?v=' in response.text
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "strict-transport-security" not in response.headers  # plain HTTP on loopback
    script = httpx.get(f"{live.url}/static/tv.js")
    assert script.status_code == 200 and "EventSource" in script.text
