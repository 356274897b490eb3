"""Hindi strings, on the same keys as ``en`` (a test keeps the two in step)."""

from __future__ import annotations

TEXTS: dict[str, str] = {
    # notify.* — rendered from the token engine's outbox intents (core.messaging.notify)
    "notify.now_serving": "टोकन {code}, कृपया {room} में जाएँ।",
    "notify.now_serving_no_room": "टोकन {code}, आपकी बारी है। कृपया डेस्क पर आएँ।",
    "notify.near_turn": "टोकन {code}: आपसे पहले {position} लोग हैं। अनुमानित समय {eta}।",
    "notify.eta_shift": "टोकन {code}: आपका अनुमानित समय अब लगभग {eta} है।",
    "notify.delay": "डॉक्टर लगभग {minutes} मिनट देर से हैं। नया अनुमानित समय: {eta}।",
    "notify.room": "कमरा {room}",
}
