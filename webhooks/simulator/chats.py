"""The simulated chats, kept IN MEMORY of the service process (a demo tool: a restart forgets them).

One chat per (clinic phone_number_id, patient) where the patient is the phone digits or, for a
username-only sender, the BSUID. Each bubble has a sequence number so the page polls only what
is new, and the outbound bubbles carry the Graph body QLink sent plus Meta's status ticks.
With ``--workers N`` each process has its own chats: the demo runs one process.
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field
from typing import Any

MAX_BUBBLES = 500  # per chat; the oldest go first


@dataclass
class Bubble:
    seq: int
    direction: str  # "in" (patient → clinic) or "out" (QLink → patient)
    wamid: str
    at: float
    body: dict[str, Any]  # inbound: the Meta ``messages[i]``; outbound: the Graph body sent
    status: str = "accepted"  # outbound: accepted → sent → delivered → read; inbound: "read"
    webhook_status: int | None = None  # inbound: what /webhooks/whatsapp answered

    def view(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "direction": self.direction,
            "wamid": self.wamid,
            "at": self.at,
            "status": self.status,
            "webhook_status": self.webhook_status,
            "body": self.body,
        }


@dataclass
class Chats:
    _chats: dict[tuple[str, str], list[Bubble]] = field(default_factory=dict)
    _seq: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _version: int = 0

    def add(
        self, phone_number_id: str, party: str, direction: str, wamid: str, body: dict[str, Any]
    ) -> Bubble:
        with self._lock:
            bubble = Bubble(next(self._seq), direction, wamid, time.time(), body)
            chat = self._chats.setdefault((phone_number_id, party), [])
            chat.append(bubble)
            del chat[:-MAX_BUBBLES]
            self._version += 1
            return bubble

    @property
    def version(self) -> int:
        """Grows with every new bubble or status: the page redraws only when it changed."""
        return self._version

    def chat(self, phone_number_id: str, party: str) -> list[dict[str, Any]]:
        with self._lock:
            return [b.view() for b in self._chats.get((phone_number_id, party), [])]

    def set_status(self, wamid: str, status: str) -> None:
        with self._lock:
            for chat in self._chats.values():
                for bubble in chat:
                    if bubble.wamid == wamid:
                        bubble.status = status
                        self._version += 1
                        return

    def set_webhook_status(self, bubbles: list[Bubble], status: int) -> None:
        with self._lock:
            for bubble in bubbles:
                bubble.webhook_status = status
            self._version += 1

    def outbound(self) -> list[dict[str, Any]]:
        """Every message QLink sent, oldest first (for tests and a curious demo user)."""
        with self._lock:
            found = [
                {"phone_number_id": key[0], "party": key[1], **b.view()}
                for key, chat in self._chats.items()
                for b in chat
                if b.direction == "out"
            ]
        return sorted(found, key=lambda item: item["seq"])
