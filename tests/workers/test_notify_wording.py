"""Near-turn wording: the engine's position 1 is the next patient, so nobody is ahead of them."""

from __future__ import annotations

import pytest

from core.messaging import notify
from core.queue.events import NEAR_TURN
from tests.workers.outbound_world import VAULT, build_world


@pytest.mark.parametrize(
    ("language", "position", "expected"),
    [
        ("en", 1, "you are next"),
        ("en", 3, "2 ahead of you"),
        ("hi", 1, "अगली बारी आपकी है"),
        ("hi", 3, "आपसे पहले 2 लोग हैं"),
    ],
)
def test_near_turn_counts_the_people_ahead_not_the_position(session, language, position, expected):
    world = build_world(session, language=language)
    payload = {"token_id": world.token_id, "position": position, "eta_local": "10:40"}

    rendered = notify.render(session, world.clinic.tenant_id, NEAR_TURN, payload, VAULT)

    assert expected in rendered.message.body
    assert "10:40" in rendered.message.body
