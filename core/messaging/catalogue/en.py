"""English strings. ``notify.*``: queue notifications (outbound); ``conv.*``: the conversation."""

from __future__ import annotations

TEXTS: dict[str, str] = {
    # notify.* — rendered from the token engine's outbox intents (core.messaging.notify)
    "notify.now_serving": "Token {code}, please go to {room}.",
    "notify.now_serving_no_room": "Token {code}, it is your turn. Please come to the desk.",
    "notify.near_turn": "Token {code}: {position} ahead of you. Expected at about {eta}.",
    "notify.eta_shift": "Token {code}: your expected time is now about {eta}.",
    "notify.delay": "The doctor is running about {minutes} minutes late. New expected time: {eta}.",
    "notify.room": "Room {room}",
}
