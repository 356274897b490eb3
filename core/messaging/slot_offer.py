"""The waiting list's offer of a freed slot, as a WhatsApp message with Accept / Decline.

``core.scheduling.waitlist_offers`` writes a ``whatsapp.slot_offer`` intent (payload
``{offer_id}``) when a freed slot is offered to a waiting patient; the relay renders it here.
Inside the 24-hour window it is a reply-button message (ids ``offer:accept:<id>`` and
``offer:decline:<id>``); outside it the approved template ``qlink_slot_offer`` (patient name,
doctor, date/time, branch, held until; quick-reply buttons Accept / Decline), whose tap carries
the button's text and is applied to the patient's latest open offer
(``core.messaging.conversation.offers``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from core.messaging.catalogue import text
from core.messaging.dates import clock_label, when_label
from core.messaging.messages import Button, Buttons, Template
from db.models import Branch, Doctor, Patient, Tenant, WaitlistEntry, WaitlistOffer

TEMPLATE = "qlink_slot_offer"
ACCEPT, DECLINE = "offer:accept", "offer:decline"


@dataclass(frozen=True)
class SlotOffer:
    """An open offer: whose, with whom, when (clinic time), where and until when."""

    patient: Patient
    branch_id: int
    offer_id: int
    doctor: str
    branch: str
    starts_at: dt.datetime
    expires_at: dt.datetime
    zone: ZoneInfo

    def params(self, lang: str) -> dict[str, str]:
        return {
            "name": self.patient.full_name,
            "doctor": self.doctor,
            "when": when_label(lang, self.starts_at, self.zone),
            "branch": self.branch,
            "until": clock_label(lang, self.expires_at, self.zone),
        }

    def message(self, lang: str) -> Buttons:
        return Buttons(
            body=text(lang, "notify.slot_offer", **self.params(lang)),
            buttons=(
                Button(f"{ACCEPT}:{self.offer_id}", text(lang, "conv.offer.accept")),
                Button(f"{DECLINE}:{self.offer_id}", text(lang, "conv.offer.decline")),
            ),
        )

    def fallback(self, lang: str) -> Template:
        return Template(TEMPLATE, lang, tuple(self.params(lang).values()))


class NoSlotOffer(Exception):
    """The offer is gone, answered or expired, or its patient erased."""


def slot_offer_for(session: Session, tenant_id: int, payload: dict[str, Any]) -> SlotOffer:
    """Load the open offer of a ``whatsapp.slot_offer`` intent (platform scope, the relay's)."""
    row = session.execute(
        select(WaitlistOffer, Patient, Doctor.full_name, Branch.name, Branch.timezone)
        .add_columns(Tenant.timezone, WaitlistEntry.branch_id)
        .join(
            WaitlistEntry,
            and_(WaitlistEntry.tenant_id == tenant_id, WaitlistEntry.id == WaitlistOffer.entry_id),
        )
        .join(Patient, and_(Patient.tenant_id == tenant_id, Patient.id == WaitlistEntry.patient_id))
        .join(Doctor, and_(Doctor.tenant_id == tenant_id, Doctor.id == WaitlistOffer.doctor_id))
        .join(Branch, and_(Branch.tenant_id == tenant_id, Branch.id == WaitlistEntry.branch_id))
        .join(Tenant, Tenant.id == WaitlistOffer.tenant_id)
        .where(WaitlistOffer.tenant_id == tenant_id, WaitlistOffer.id == payload["offer_id"])
    ).first()
    if row is None:
        raise NoSlotOffer("the offer no longer exists")
    offer, patient, doctor, branch, branch_tz, tenant_tz, branch_id = row
    if offer.status != "open":
        raise NoSlotOffer(f"the offer is {offer.status}")
    if patient.erased_at is not None:
        raise NoSlotOffer("the patient no longer exists")
    zone = ZoneInfo(branch_tz or tenant_tz)
    return SlotOffer(
        patient, branch_id, offer.id, doctor, branch, offer.slot_start, offer.expires_at, zone
    )
