""" "My records": a signed link to the patient's own records page, valid for a week."""

from __future__ import annotations

from core.messaging.conversation.turn import IDLE, Turn
from core.patients.record_links import LINK_TTL, issue_records_link


def send_records_link(turn: Turn) -> None:
    """Reply with the patient's records link (``/me/{ref}``), or say it is not available."""
    assert turn.patient is not None
    if turn.links is None:  # the service's secret and address are not known here
        turn.say("conv.records.unavailable")
    else:
        ref = issue_records_link(
            turn.session, turn.actor, patient_id=turn.patient.id, secret=turn.links.secret
        )
        url = f"{turn.links.base_url.rstrip('/')}/me/{ref}"
        turn.say("conv.records.link", url=url, days=LINK_TTL.days)
    turn.go(IDLE)
