"""What a branch's screen says to someone who has no token yet: how to get one over WhatsApp."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.context import Actor
from core.signage.branches import BranchRef, own_branch
from db.models import WhatsAppNumber

GREETING = "Hi, I would like a token"
MIN_DIGITS = 8  # shorter is a placeholder, not a number a phone can message


@dataclass(frozen=True)
class WhatsAppContact:
    """The branch's WhatsApp number as printed, and the chat link its QR code opens."""

    number: str
    link: str


def whatsapp_contact(session: Session, actor: Actor, branch: BranchRef) -> WhatsAppContact | None:
    """Return the WhatsApp number patients message for a token at ``branch``, if it has one.

    A number routed to the branch wins over one routed to the clinic as a whole; a number
    without a usable display form (Meta's id alone cannot be dialled) counts as none.
    """
    own_branch(session, actor, branch)
    tenant_id = branch.tenant_id
    rows = session.execute(
        select(WhatsAppNumber.display_number, WhatsAppNumber.branch_id)
        .where(
            WhatsAppNumber.tenant_id == tenant_id,
            (WhatsAppNumber.branch_id == branch.branch_id) | WhatsAppNumber.branch_id.is_(None),
            WhatsAppNumber.display_number.is_not(None),
        )
        .order_by(WhatsAppNumber.branch_id.is_(None), WhatsAppNumber.phone_number_id)
    ).all()
    for number, _branch_id in rows:
        contact = contact_for(number)
        if contact is not None:
            return contact
    return None


def contact_for(number: str | None) -> WhatsAppContact | None:
    """Build the ``wa.me`` link of a printed number (``+91 99999 00001``), or None if unusable."""
    digits = "".join(ch for ch in number or "" if ch.isdigit())
    if len(digits) < MIN_DIGITS or len(digits) > 15:  # E.164 allows at most 15 digits
        return None
    link = f"https://wa.me/{digits}?text={quote(GREETING)}"
    return WhatsAppContact(number=(number or "").strip(), link=link)
