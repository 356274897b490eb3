"""The desk's snapshot: lanes grouped from one read of today's tokens, in calling order.

The desk shows each doctor's next patients by projected ETA; this checks that order is the
one ``call_next`` follows, and that the read costs the same few statements for any number
of doctors (a guard by statement count, not by clock).
"""

from __future__ import annotations

from sqlalchemy import event

from core.queue.desk_view import desk_snapshot, latest_event_id
from core.queue.doctor_day import pause_doctor
from tests.web.conftest import make_floor


def snapshot(floor):
    with floor.db.transaction(floor.tenant_id, readonly=True) as s:
        return desk_snapshot(s, floor.clinic.receptionist, branch_id=floor.clinic.branch.id)


def statements(db, action) -> int:
    seen = []
    listener = lambda *_: seen.append(1)  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        action()
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    return len(seen)


def test_lanes_show_who_is_called_who_is_next_in_calling_order_and_who_paused(db):
    floor = make_floor(db)
    for index in range(4):
        floor.issue(index)
    floor.issue(4, doctor=None)  # for the department: allocated to a doctor at issue
    floor.issue(5, kind="emergency")
    with db.transaction(floor.tenant_id) as s:
        pause_doctor(s, floor.clinic.receptionist, doctor_id=floor.doctors[1].id)
    called = floor.call()
    snap = snapshot(floor)
    asha, vikram = snap.board.lanes
    assert called == "GEN-006"  # the emergency goes first
    assert [t.code for t in asha.serving] == ["GEN-006"] and asha.serving[0].name == "Priya D."
    following = []
    for _ in range(4):
        following.append(floor.call())
    assert [t.code for t in asha.next] == following[: len(asha.next)]
    assert asha.waiting == 4 and not asha.paused
    assert vikram.paused and [t.code for t in vikram.next] == ["GEN-005"]
    assert {t.code for t in snap.tokens} >= {"GEN-005", "GEN-006"}
    with db.transaction(floor.tenant_id, readonly=True) as s:
        assert snap.event_id < latest_event_id(
            s, floor.clinic.receptionist, branch_id=floor.clinic.branch.id
        )


def test_the_snapshot_costs_the_same_statements_for_one_or_three_doctors(db):
    one = make_floor(db, doctors=1)
    three = make_floor(db, doctors=3)
    for floor in (one, three):
        for index in range(3):
            floor.issue(index, doctor=index % len(floor.doctors))
        floor.call()
    assert statements(db, lambda: snapshot(one)) == statements(db, lambda: snapshot(three))
