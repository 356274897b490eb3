"""The WhatsApp conversation: intent router and per-contact session state machine."""

from __future__ import annotations

from core.messaging.conversation.handle import handle_inbound
from core.messaging.conversation.turn import IDLE_TIMEOUT, TokenLinks
from core.messaging.conversation.visits import checkin_text

__all__ = ["IDLE_TIMEOUT", "TokenLinks", "checkin_text", "handle_inbound"]
