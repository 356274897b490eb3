"""The waiting list for full days: add, remove, accept or decline an offer, and the desk's read.

Offering freed slots and expiring offers live in ``core.scheduling.waitlist_offers`` (booking
calls it when a seat frees; the workers' ticker expires offers every minute). Accepting books
through ``book_appointment``, so the seat index still referees; the offer's compare-and-set
``open`` → ``accepted`` makes two desks accepting the same offer end with one booking.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import and_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core import audit
from core.auth.permissions import require
from core.context import Actor, load_owned, tenant_of
from core.errors import Conflict, ValidationFailed
from core.patients.views import load_patient, masked_name
from core.scheduling.booking import book_appointment
from core.scheduling.doctors import access_doctor
from core.scheduling.waitlist_offers import (
    close_offer,
    expire_offers,
    offer_freed_slot,
    set_entry_status,
)
from core.tenancy import access_branch, access_department, tenant_timezone
from db.models import Appointment, Department, Doctor, Patient, WaitlistEntry, WaitlistOffer

LIVE = ("waiting", "offered")


@dataclass(frozen=True)
class Wish:
    """Who waits for what: a doctor or a department, a local date, an optional time window."""

    patient_id: int
    branch_id: int
    on_date: dt.date
    doctor_id: int | None = None
    department_id: int | None = None
    window_start: dt.time | None = None
    window_end: dt.time | None = None
    note: str | None = None


@dataclass(frozen=True)
class WaitingRow:
    """One live entry of a day's waiting list, with its open offer if any."""

    entry_id: int
    patient_id: int
    patient_code: str
    patient_name: str
    wants: str
    window: str
    status: str
    offer_id: int | None = None
    offer_doctor_id: int | None = None
    offer_slot: dt.datetime | None = None
    offer_label: str | None = None
    offer_expires: str | None = None


def add_to_waitlist(session: Session, actor: Actor, wish: Wish) -> WaitlistEntry:
    """Put a patient on the waiting list of a full day; ``Conflict`` if already waiting."""
    require(actor, "appointment.book")
    tenant_id = tenant_of(session, actor)
    department_id = _check_wish(session, actor, tenant_id, wish)
    now = actor.clock()
    entry = WaitlistEntry(
        tenant_id=tenant_id,
        branch_id=wish.branch_id,
        doctor_id=wish.doctor_id,
        department_id=department_id,
        patient_id=wish.patient_id,
        on_date=wish.on_date,
        window_start=wish.window_start,
        window_end=wish.window_end,
        note=(wish.note or "").strip()[:200] or None,
        status="waiting",
        added_by=actor.user_id,
        created_at=now,
        updated_at=now,
    )
    try:
        with session.begin_nested():
            session.add(entry)
            session.flush()
    except IntegrityError as exc:
        raise Conflict("The patient is already on the waiting list for that day") from exc
    _audit(session, actor, "waitlist.add", entry.id, patient_id=wish.patient_id)
    return entry


def remove_from_waitlist(session: Session, actor: Actor, *, entry_id: int) -> WaitlistEntry:
    """Take a live entry off the list; an open offer it held passes to the next entry."""
    require(actor, "appointment.book")
    entry = access_waitlist_entry(session, actor, entry_id)
    now = actor.clock()
    offer = _open_offer_of(session, entry)
    if offer is not None:
        close_offer(session, offer, "declined", now=now, by=actor.user_id)
    if not any(_set(session, entry, old, "removed", now) for old in LIVE):
        raise Conflict("This entry is no longer on the waiting list")
    if offer is not None:
        _pass_on(session, offer, now)
    _audit(session, actor, "waitlist.remove", entry.id)
    session.refresh(entry)
    return entry


def accept_offer(
    session: Session, actor: Actor, *, offer_id: int, source: str = "reception"
) -> Appointment:
    """Book the offered slot for the entry's patient; ``Conflict`` if the offer is not open.

    Raises ``SlotTaken`` (nothing changes) when someone booked the slot directly meanwhile.
    ``source`` is the booking's: ``whatsapp`` when the patient accepted in the chat (the chat
    confirms it, so no separate confirmation message is queued).
    """
    require(actor, "appointment.book")
    offer = access_waitlist_offer(session, actor, offer_id)
    now = actor.clock()
    if offer.status != "open" or offer.expires_at <= now:
        raise Conflict("This offer has expired or was already answered")
    entry = access_waitlist_entry(session, actor, offer.entry_id)
    with session.begin_nested():
        if not close_offer(session, offer, "accepted", now=now, by=actor.user_id):
            raise Conflict("This offer has expired or was already answered")
        appt = book_appointment(
            session,
            actor,
            doctor_id=offer.doctor_id,
            patient_id=entry.patient_id,
            slot_start=offer.slot_start,
            branch_id=entry.branch_id,
            reason=entry.note,
            source=source,
        )
    offer.appointment_id = entry.appointment_id = appt.id
    _set(session, entry, "offered", "booked", now)
    _audit(session, actor, "waitlist.accept", entry.id, offer_id=offer.id, appointment_id=appt.id)
    return appt


def decline_offer(session: Session, actor: Actor, *, offer_id: int) -> WaitlistOffer:
    """Record that the patient declined; the entry waits again and the slot goes to the next."""
    require(actor, "appointment.book")
    offer = access_waitlist_offer(session, actor, offer_id)
    now = actor.clock()
    if not close_offer(session, offer, "declined", now=now, by=actor.user_id):
        raise Conflict("This offer has expired or was already answered")
    _pass_on(session, offer, now)
    _audit(session, actor, "waitlist.decline", offer.entry_id, offer_id=offer.id)
    return offer


def expire_due_offers(session: Session, actor: Actor) -> int:
    """Expire the clinic's offers whose time ran out now (the workers' ticker does it every
    minute for all clinics; reads already leave lapsed offers out)."""
    require(actor, "appointment.read")
    return expire_offers(session, now=actor.clock(), tenant_id=tenant_of(session, actor))


def waitlist_day(
    session: Session, actor: Actor, *, branch_id: int, on_date: dt.date
) -> tuple[WaitingRow, ...]:
    """Return the live waiting list of a branch and local date, oldest first (names masked)."""
    require(actor, "appointment.read")
    tenant_id = tenant_of(session, actor)
    branch = access_branch(session, actor, branch_id)
    zone = tenant_timezone(session, tenant_id, branch)
    offer_join = and_(  # an offer whose time ran out is not shown (the ticker expires it)
        WaitlistOffer.tenant_id == tenant_id,
        WaitlistOffer.entry_id == WaitlistEntry.id,
        WaitlistOffer.status == "open",
        WaitlistOffer.expires_at > actor.clock(),
    )
    rows = session.execute(
        select(WaitlistEntry, Patient.code, Patient.full_name, Doctor.full_name, Department.name)
        .join(Patient, and_(Patient.tenant_id == tenant_id, Patient.id == WaitlistEntry.patient_id))
        .outerjoin(
            Doctor, and_(Doctor.tenant_id == tenant_id, Doctor.id == WaitlistEntry.doctor_id)
        )
        .outerjoin(
            Department,
            and_(Department.tenant_id == tenant_id, Department.id == WaitlistEntry.department_id),
        )
        .add_columns(WaitlistOffer)
        .outerjoin(WaitlistOffer, offer_join)
        .where(
            WaitlistEntry.tenant_id == tenant_id,
            WaitlistEntry.branch_id == branch_id,
            WaitlistEntry.on_date == on_date,
            WaitlistEntry.status.in_(LIVE),
        )
        .order_by(WaitlistEntry.created_at, WaitlistEntry.id)
    ).all()
    return tuple(_row(*row, zone=zone) for row in rows)


def access_waitlist_entry(session: Session, actor: Actor, entry_id: int) -> WaitlistEntry:
    """Fetch a waiting-list entry of the actor's clinic, or raise ``NotFound``."""
    return load_owned(session, actor, WaitlistEntry, entry_id, "Waiting-list entry")


def access_waitlist_offer(session: Session, actor: Actor, offer_id: int) -> WaitlistOffer:
    """Fetch a waiting-list offer of the actor's clinic, or raise ``NotFound``."""
    return load_owned(session, actor, WaitlistOffer, offer_id, "Offer")


def _check_wish(session: Session, actor: Actor, tenant_id: int, wish: Wish) -> int | None:
    """Validate a wish; return its department (the doctor's when a doctor is named)."""
    load_patient(session, tenant_id, wish.patient_id)
    branch = access_branch(session, actor, wish.branch_id)
    today = actor.clock().astimezone(tenant_timezone(session, tenant_id, branch)).date()
    if wish.on_date < today:
        raise ValidationFailed("That day has passed", field="on_date")
    if (wish.window_start, wish.window_end) != (None, None) and not (
        wish.window_start and wish.window_end and wish.window_start < wish.window_end
    ):
        raise ValidationFailed("Give a time window with its start before its end", field="window")
    if wish.doctor_id is not None:
        return access_doctor(session, actor, wish.doctor_id).department_id
    if wish.department_id is None:
        raise ValidationFailed("Choose a doctor or a department", field="doctor_id")
    return access_department(session, actor, wish.department_id).id


def _open_offer_of(session: Session, entry: WaitlistEntry) -> WaitlistOffer | None:
    return session.scalar(
        select(WaitlistOffer).where(
            WaitlistOffer.tenant_id == entry.tenant_id,
            WaitlistOffer.entry_id == entry.id,
            WaitlistOffer.status == "open",
        )
    )


def _pass_on(session: Session, offer: WaitlistOffer, now: dt.datetime) -> None:
    offer_freed_slot(
        session, offer.tenant_id, doctor_id=offer.doctor_id, slot_start=offer.slot_start, now=now
    )


def _set(session: Session, entry: WaitlistEntry, old: str, new: str, now: dt.datetime) -> bool:
    return set_entry_status(session, entry.tenant_id, entry.id, old, new, now)


def _row(
    entry: WaitlistEntry,
    code: str,
    name: str,
    doctor: str | None,
    department: str | None,
    offer: WaitlistOffer | None,
    *,
    zone: ZoneInfo,
) -> WaitingRow:
    window = (
        f"{entry.window_start:%H:%M}–{entry.window_end:%H:%M}"
        if entry.window_start and entry.window_end
        else "any time"
    )
    return WaitingRow(
        entry_id=entry.id,
        patient_id=entry.patient_id,
        patient_code=code,
        patient_name=masked_name(name),
        wants=doctor or f"any doctor, {department}",
        window=window,
        status="waiting" if entry.status == "offered" and offer is None else entry.status,
        offer_id=offer.id if offer else None,
        offer_doctor_id=offer.doctor_id if offer else None,
        offer_slot=offer.slot_start if offer else None,
        offer_label=f"{offer.slot_start.astimezone(zone):%H:%M}" if offer else None,
        offer_expires=f"{offer.expires_at.astimezone(zone):%H:%M}" if offer else None,
    )


def _audit(session: Session, actor: Actor, action: str, entry_id: int, **detail: object) -> None:
    audit.record(session, actor, action, entity="waitlist_entry", entity_id=entry_id, detail=detail)
