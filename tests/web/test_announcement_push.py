"""An admin's announcement edit reaches an open TV screen at once, not at the nightly reload."""

from __future__ import annotations

from core.signage import announcements
from tests.web.test_signage_stream import open_screen


def test_open_screen_gets_a_new_announcement_at_once(live, floor, sse):
    reader = open_screen(live, floor, sse, "?dept=GEN")
    assert reader.next("snapshot").data["board"]["announcements"] == []
    with floor.db.transaction(floor.tenant_id) as s:
        added = announcements.add_announcement(
            s, floor.clinic.admin, branch_id=floor.clinic.branch.id, body="Pharmacy closes at 8"
        )
    update = reader.next("queue").data["update"]
    assert update["type"] == "AnnouncementsChanged"
    assert [n["body"] for n in update["notices"]] == ["Pharmacy closes at 8"]
    with floor.db.transaction(floor.tenant_id) as s:
        announcements.edit_announcement(
            s,
            floor.clinic.admin,
            announcement_id=added.id,
            body="Pharmacy closes at 8",
            active=False,
        )
    assert reader.next("queue").data["update"]["notices"] == []
