"""Offering a freed slot to the waiting list, and expiring offers nobody took.

When a seat frees (cancel, reschedule), the first waiting entry that fits the slot (same branch
and date, the doctor or their department, the slot's local time inside the entry's window,
oldest entry first, never offered this slot before) gets an open offer and a
``whatsapp.slot_offer`` outbox intent. Races are settled by partial unique indexes, not by the
reads before them: ``uq_waitlist_offers_open_slot`` lets a slot carry one open offer and
``uq_waitlist_offers_open_entry`` an entry hold one. Each INSERT runs in a SAVEPOINT; losing on
the slot index means someone else already offered it, losing on the entry index means the
entry was just offered another slot, so the next entry is tried.

No booking happens here (``core.scheduling.waitlist.accept_offer`` books), so booking.py can
call in without an import cycle.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from sqlalchemy import CursorResult, and_, exists, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.errors import DoctorNotAvailable, ValidationFailed
from core.queue.events import enqueue_intents
from core.scheduling.booking_rules import booking_rules
from core.scheduling.slots import Slot, resolve_slot, seats_taken
from db.models import Doctor, WaitlistEntry, WaitlistOffer

SLOT_OFFER = "whatsapp.slot_offer"
MAX_CANDIDATES = 20


def offer_freed_slot(
    session: Session, tenant_id: int, *, doctor_id: int, slot_start: dt.datetime, now: dt.datetime
) -> WaitlistOffer | None:
    """Offer a freed slot to the first waiting entry that fits; None when nobody fits.

    The caller checked access and freed the seat in this transaction.
    """
    slot = _free_slot(session, tenant_id, doctor_id, slot_start, now)
    if slot is None or _has_open_offer(session, tenant_id, doctor_id, slot_start):
        return None
    doctor = session.get(Doctor, doctor_id)
    if doctor is None or doctor.tenant_id != tenant_id:
        return None
    expires = min(
        slot.start, now + dt.timedelta(minutes=booking_rules(session, tenant_id).offer_minutes)
    )
    for entry in _candidates(session, tenant_id, doctor, slot):
        offer = _try_offer(session, entry, doctor_id, slot.start, now, expires)
        if offer is not None:
            return offer
        if _has_open_offer(session, tenant_id, doctor_id, slot_start):
            return None  # a concurrent cancel of the same seat offered it first
    return None


def expire_offers(session: Session, *, now: dt.datetime, tenant_id: int | None = None) -> int:
    """Expire open offers whose time ran out and pass each slot on; return how many expired.

    Platform scope when ``tenant_id`` is None. Safe to run twice or concurrently: each offer is
    closed by compare-and-set, and only the closer passes its slot on.
    """
    query = select(WaitlistOffer).where(
        WaitlistOffer.status == "open", WaitlistOffer.expires_at <= now
    )
    if tenant_id is not None:
        query = query.where(WaitlistOffer.tenant_id == tenant_id)
    expired = 0
    for offer in session.scalars(query.order_by(WaitlistOffer.id)).all():
        if close_offer(session, offer, "expired", now=now, by=None):
            expired += 1
            offer_freed_slot(
                session,
                offer.tenant_id,
                doctor_id=offer.doctor_id,
                slot_start=offer.slot_start,
                now=now,
            )
    return expired


def close_offer(
    session: Session, offer: WaitlistOffer, status: str, *, now: dt.datetime, by: int | None
) -> bool:
    """Compare-and-set an open offer to ``status``; put its entry back to waiting unless
    accepted. Return whether this call closed it."""
    closed = _cas(
        session,
        update(WaitlistOffer)
        .where(
            WaitlistOffer.id == offer.id,
            WaitlistOffer.tenant_id == offer.tenant_id,
            WaitlistOffer.status == "open",
        )
        .values(status=status, closed_at=now, closed_by=by),
    )
    if closed and status != "accepted":
        set_entry_status(session, offer.tenant_id, offer.entry_id, "offered", "waiting", now)
    session.refresh(offer)
    return closed


def set_entry_status(
    session: Session, tenant_id: int, entry_id: int, old: str, new: str, now: dt.datetime
) -> bool:
    """Compare-and-set an entry's status; return whether it changed."""
    return _cas(
        session,
        update(WaitlistEntry)
        .where(
            WaitlistEntry.id == entry_id,
            WaitlistEntry.tenant_id == tenant_id,
            WaitlistEntry.status == old,
        )
        .values(status=new, updated_at=now),
    )


def _try_offer(
    session: Session,
    entry: WaitlistEntry,
    doctor_id: int,
    slot_start: dt.datetime,
    now: dt.datetime,
    expires: dt.datetime,
) -> WaitlistOffer | None:
    offer = WaitlistOffer(
        tenant_id=entry.tenant_id,
        entry_id=entry.id,
        doctor_id=doctor_id,
        slot_start=slot_start,
        expires_at=expires,
        status="open",
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(offer)
            session.flush()
            if not set_entry_status(session, entry.tenant_id, entry.id, "waiting", "offered", now):
                raise _EntryMoved
    except (IntegrityError, _EntryMoved):
        return None
    key = f"slot_offer:{offer.id}"
    row = {"kind": SLOT_OFFER, "payload": {"offer_id": offer.id}, "dedupe_key": key}
    enqueue_intents(session, tenant_id=entry.tenant_id, rows=[row], at=now)
    return offer


class _EntryMoved(Exception):
    """The entry left ``waiting`` between the read and the offer (removed, or offered)."""


def _free_slot(
    session: Session, tenant_id: int, doctor_id: int, slot_start: dt.datetime, now: dt.datetime
) -> Slot | None:
    if slot_start <= now:
        return None
    try:
        slot = resolve_slot(session, tenant_id, doctor_id=doctor_id, slot_start=slot_start)
    except (DoctorNotAvailable, ValidationFailed):
        return None
    held = seats_taken(session, tenant_id, doctor_id=doctor_id, slots=[slot]).get(slot.start, set())
    return slot if any(s not in held for s in range(1, slot.capacity + 1)) else None


def _candidates(
    session: Session, tenant_id: int, doctor: Doctor, slot: Slot
) -> list[WaitlistEntry]:
    offered_before = exists().where(
        WaitlistOffer.tenant_id == tenant_id,
        WaitlistOffer.entry_id == WaitlistEntry.id,
        WaitlistOffer.doctor_id == doctor.id,
        WaitlistOffer.slot_start == slot.start,
    )
    rows = session.scalars(
        select(WaitlistEntry)
        .where(
            WaitlistEntry.tenant_id == tenant_id,
            WaitlistEntry.status == "waiting",
            WaitlistEntry.on_date == slot.on_date,
            WaitlistEntry.branch_id == slot.branch_id,
            or_(
                WaitlistEntry.doctor_id == doctor.id,
                and_(
                    WaitlistEntry.doctor_id.is_(None),
                    WaitlistEntry.department_id == doctor.department_id,
                ),
            ),
            ~offered_before,
        )
        .order_by(WaitlistEntry.created_at, WaitlistEntry.id)
        .limit(MAX_CANDIDATES)
    ).all()
    at = slot.local_start.time()
    return [e for e in rows if _fits(e, at)]


def _fits(entry: WaitlistEntry, at: dt.time) -> bool:
    return (entry.window_start is None or entry.window_start <= at) and (
        entry.window_end is None or at < entry.window_end
    )


def _has_open_offer(
    session: Session, tenant_id: int, doctor_id: int, slot_start: dt.datetime
) -> bool:
    found = session.scalar(
        select(WaitlistOffer.id).where(
            WaitlistOffer.tenant_id == tenant_id,
            WaitlistOffer.doctor_id == doctor_id,
            WaitlistOffer.slot_start == slot_start,
            WaitlistOffer.status == "open",
        )
    )
    return found is not None


def _cas(session: Session, stmt: Any) -> bool:
    # The default synchronisation updates rows already loaded in the session, so a read later
    # in the same transaction sees the new status.
    result = cast("CursorResult[Any]", session.execute(stmt))
    return result.rowcount == 1
