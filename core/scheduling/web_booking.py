"""Web booking for a clinic network's website: modes, public availability, WhatsApp codes.

Every branch books in one of two modes (``tenants.settings["web_booking"]["modes"]``, changed by a
clinic admin, audited): ``live`` offers the doctors' free slots (``core.scheduling.slots``) minus
the busy blocks of a doctor's external calendar feed (``core.scheduling.calendar_feeds``), and
books through ``book_appointment`` (source ``web``: same unique seat index, a lost race raises
``SlotTaken`` with the next free slots); ``request`` stores a ``booking_requests`` row (a day and a
time window) that staff confirm or answer with another time (``core.scheduling.web_requests``).
The websites that may frame the page are the clinic's one list in ``core.partners.keys``.

Phone ownership comes first: ``issue_code`` writes a 6-digit code (only a salted hash is stored,
valid 5 minutes, 5 tries, at most 3 sends per phone in 15 minutes and one per 30 seconds) and a
``whatsapp.send`` outbox row carrying the clinic's approved authentication template
``qlink_otp`` (body parameter and copy-code button = the code). ``verify_code`` answers with a
one-use ticket (15 minutes) that ``book_online`` / ``request_booking`` consume. A wrong code is
counted by the caller committing the returned refusal (core never commits).

Functions taking ``tenant_id`` serve the public page and the partner API: the caller resolved the
clinic from its public slug (``public_clinic``) or an API key; they act as ``web_actor``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit
from core.auth.permissions import require
from core.clock import Clock, FrozenClock
from core.context import Actor, tenant_of
from core.errors import DomainError, NotFound, SlotTaken, ValidationFailed
from core.messaging.messages import SEND, Recipient, Template, to_payload
from core.messaging.outbound import approved_template
from core.partners.keys import clinic_origins
from core.patients.consent import ConsentGrant
from core.patients.phones import PhoneVault, normalise_phone
from core.patients.registry import register_patient
from core.patients.views import by_phone_hash
from core.queue.events import enqueue_intents
from core.scheduling.booking import book_appointment, cancel_appointment
from core.scheduling.calendar_feeds import busy_blocks, overlaps
from core.scheduling.slots import Slot, check_aware, free_slots
from core.tenancy import tenant_timezone
from db.models import (
    Appointment,
    Branch,
    Department,
    Doctor,
    DoctorBranch,
    Patient,
    Tenant,
    WhatsAppNumber,
)
from db.models.scheduling import WebBookingCode

MODES = ("live", "request")
DEFAULT_MODE = "live"
SETTINGS_KEY = "web_booking"
OTP_TEMPLATE = "qlink_otp"  # category AUTHENTICATION: body {{1}} = code, copy-code button
CODE_TTL = dt.timedelta(minutes=5)
TICKET_TTL = dt.timedelta(minutes=15)
MAX_ATTEMPTS = 5
MAX_SENDS = 3
SEND_WINDOW = dt.timedelta(minutes=15)
RESEND_GAP = dt.timedelta(seconds=30)
DAYS_AHEAD = 60
WEB_ACTOR_LABEL = "web booking"


class TooManyCodes(DomainError):
    """Codes for this phone are sent too often; ``retry_after`` seconds until the next."""

    code = "too_many_codes"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, retry_after=retry_after)
        self.retry_after = retry_after


class TicketInvalid(DomainError):
    """The phone verification is missing, expired, used, or for another phone."""

    code = "phone_not_verified"

    def __init__(self, message: str = "Verify your phone with the WhatsApp code again") -> None:
        super().__init__(message)


@dataclass(frozen=True)
class PublicClinic:
    tenant_id: int
    slug: str
    name: str
    timezone: str
    origins: tuple[str, ...]  # the clinic's websites (core.partners.keys), allowed to embed it


@dataclass(frozen=True)
class BranchChoice:
    id: int
    name: str
    address: str | None
    mode: str
    timezone: str  # the branch's wall clock: "today" on the page is the branch's, not the browser's


@dataclass(frozen=True)
class BranchMode:
    id: int
    name: str
    active: bool
    mode: str


@dataclass(frozen=True)
class BookingSetup:
    """What an admin sets for the booking page: its slug (``/book/{slug}``), modes by branch."""

    slug: str
    branches: tuple[BranchMode, ...]


@dataclass(frozen=True)
class Specialty:
    department_id: int
    branch_id: int
    name: str


@dataclass(frozen=True)
class DoctorChoice:
    id: int
    name: str
    specialization: str
    qualification: str | None
    department_id: int
    branch_ids: tuple[int, ...]
    fee_minor: int


@dataclass(frozen=True)
class Directory:
    clinic: PublicClinic
    branches: tuple[BranchChoice, ...]
    specialties: tuple[Specialty, ...]
    doctors: tuple[DoctorChoice, ...]


@dataclass(frozen=True)
class CodeSent:
    expires_at: dt.datetime
    resend_after: dt.datetime
    masked_phone: str


@dataclass(frozen=True)
class CodeCheck:
    """``ticket`` when the code was right; otherwise why not and the tries left."""

    ticket: str | None
    reason: str | None = None
    attempts_left: int = 0

    @property
    def ok(self) -> bool:
        return self.ticket is not None


@dataclass(frozen=True)
class WebBooking:
    appointment_id: int
    patient_id: int
    doctor_name: str
    branch_name: str
    slot_start: dt.datetime
    local_start: dt.datetime


def web_actor(tenant_id: int, clock: Clock | None = None) -> Actor:
    """The actor public bookings run as (audited as 'web booking', no user)."""
    if clock is None:
        return Actor(None, tenant_id, "system", WEB_ACTOR_LABEL)
    return Actor(None, tenant_id, "system", WEB_ACTOR_LABEL, clock=clock)


# --- clinic settings -----------------------------------------------------------------------


def public_clinic(session: Session, slug: str) -> PublicClinic:
    """Find an active clinic by its public slug, or raise ``NotFound``."""
    slug = (slug or "").strip().lower()
    tenant = session.scalar(select(Tenant).where(Tenant.slug == slug)) if slug else None
    if tenant is None or tenant.status != "active":
        raise NotFound("Clinic not found")
    return _public(session, tenant)


def booking_mode(session: Session, tenant_id: int, branch_id: int) -> str:
    """Return the branch's web booking mode (``live`` unless an admin chose ``request``)."""
    public_branch(session, tenant_id, branch_id)
    return _modes(_settings(session, tenant_id)).get(str(branch_id), DEFAULT_MODE)


def booking_setup(session: Session, actor: Actor) -> BookingSetup:
    """Return the clinic's public page slug and every branch's mode (clinic admins)."""
    require(actor, "settings.write")
    tenant_id = tenant_of(session, actor)
    tenant = session.get(Tenant, tenant_id)
    assert tenant is not None
    modes = _modes(_settings(session, tenant_id))
    branches = session.scalars(
        select(Branch).where(Branch.tenant_id == tenant_id).order_by(Branch.name, Branch.id)
    )
    return BookingSetup(
        tenant.slug,
        tuple(
            BranchMode(b.id, b.name, b.active, modes.get(str(b.id), DEFAULT_MODE)) for b in branches
        ),
    )


def set_booking_mode(session: Session, actor: Actor, *, branch_id: int, mode: str) -> None:
    """Set a branch's web booking mode (clinic admins); audited."""
    require(actor, "settings.write")
    tenant_id = tenant_of(session, actor)
    public_branch(session, tenant_id, branch_id)
    if mode not in MODES:
        raise ValidationFailed(f"Mode must be one of {', '.join(MODES)}", field="mode")
    tenant = session.get(Tenant, tenant_id)
    assert tenant is not None
    web = dict((tenant.settings or {}).get(SETTINGS_KEY) or {})
    previous = _modes(web).get(str(branch_id), DEFAULT_MODE)
    web["modes"] = {**_modes(web), str(branch_id): mode}
    tenant.settings = {**(tenant.settings or {}), SETTINGS_KEY: web}
    audit.record(
        session,
        actor,
        "web_booking.mode",
        entity="branch",
        entity_id=branch_id,
        detail={"from": previous, "to": mode},
    )


# --- public directory and availability ----------------------------------------------------


def public_directory(session: Session, tenant_id: int) -> Directory:
    """Branches (with their mode), specialties and doctors a patient can pick from."""
    tenant = session.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFound("Clinic not found")
    modes = _modes(_settings(session, tenant_id))
    branches = session.scalars(
        select(Branch)
        .where(Branch.tenant_id == tenant_id, Branch.active.is_(True))
        .order_by(Branch.name, Branch.id)
    ).all()
    departments = session.scalars(
        select(Department)
        .where(Department.tenant_id == tenant_id, Department.active.is_(True))
        .order_by(Department.name, Department.id)
    ).all()
    doctors = session.scalars(
        select(Doctor)
        .where(Doctor.tenant_id == tenant_id, Doctor.active.is_(True))
        .order_by(Doctor.full_name, Doctor.id)
    ).all()
    links: dict[int, list[int]] = {}
    for doctor_id, branch_id in session.execute(
        select(DoctorBranch.doctor_id, DoctorBranch.branch_id).where(
            DoctorBranch.tenant_id == tenant_id
        )
    ):
        links.setdefault(doctor_id, []).append(branch_id)
    dept_branch = {d.id: d.branch_id for d in departments}
    return Directory(
        _public(session, tenant),
        tuple(
            BranchChoice(
                b.id,
                b.name,
                b.address,
                modes.get(str(b.id), DEFAULT_MODE),
                b.timezone or tenant.timezone,
            )
            for b in branches
        ),
        tuple(Specialty(d.id, d.branch_id, d.name) for d in departments),
        tuple(
            DoctorChoice(
                d.id,
                d.full_name,
                d.specialization,
                d.qualification,
                d.department_id,
                tuple(sorted(set(links.get(d.id, [])) | {dept_branch.get(d.department_id, 0)})),
                d.fee_minor,
            )
            for d in doctors
            if d.department_id in dept_branch
        ),
    )


def public_slots(
    session: Session,
    tenant_id: int,
    *,
    doctor_id: int,
    branch_id: int,
    on_date: dt.date,
    now: dt.datetime,
) -> list[Slot]:
    """The doctor's free slots at a ``live`` branch on a local date, minus calendar-feed busy."""
    branch = public_branch(session, tenant_id, branch_id)
    doctor = _doctor(session, tenant_id, doctor_id)
    if booking_mode(session, tenant_id, branch_id) != "live":
        raise ValidationFailed("This branch takes booking requests, not live slots", field="mode")
    today = now.astimezone(tenant_timezone(session, tenant_id, branch)).date()
    if not today <= on_date <= today + dt.timedelta(days=DAYS_AHEAD):
        raise ValidationFailed(f"Pick a date from today to {DAYS_AHEAD} days ahead", field="date")
    if not doctor.active:
        return []
    slots = free_slots(
        session,
        tenant_id,
        doctor_id=doctor_id,
        first=on_date,
        last=on_date,
        branch_id=branch_id,
        now=now,
    )
    busy = busy_blocks(session, tenant_id, doctor_id)
    return [s for s in slots if s.on_date == on_date and not overlaps(busy, s.start, s.end)]


def next_public_slots(
    session: Session,
    tenant_id: int,
    *,
    doctor_id: int,
    branch_id: int,
    after: dt.datetime,
    now: dt.datetime,
    limit: int = 3,
) -> list[Slot]:
    """Up to ``limit`` free slots after ``after`` (14 days ahead), minus calendar-feed busy."""
    check_aware(after, "after")
    branch = public_branch(session, tenant_id, branch_id)
    _doctor(session, tenant_id, doctor_id)
    zone = tenant_timezone(session, tenant_id, branch)
    first = after.astimezone(zone).date()
    slots = free_slots(
        session,
        tenant_id,
        doctor_id=doctor_id,
        first=first,
        last=first + dt.timedelta(days=14),
        branch_id=branch_id,
        now=now,
    )
    busy = busy_blocks(session, tenant_id, doctor_id)
    return [s for s in slots if s.start > after and not overlaps(busy, s.start, s.end)][:limit]


# --- one-time codes ---------------------------------------------------------------------------


def issue_code(
    session: Session,
    tenant_id: int,
    *,
    phone: str,
    vault: PhoneVault,
    now: dt.datetime,
    branch_id: int | None = None,
    language: str = "en",
) -> CodeSent:
    """Send a new 6-digit code to ``phone`` over WhatsApp; ``TooManyCodes`` past the limits.

    The code goes out in the page's ``language`` when the clinic has ``qlink_otp`` approved in
    it, else in English.
    """
    e164 = normalise_phone(phone)
    if branch_id is not None:
        public_branch(session, tenant_id, branch_id)
    phone_hash = vault.lookup_hash(e164)
    recent = session.scalars(
        select(WebBookingCode.created_at)
        .where(
            WebBookingCode.tenant_id == tenant_id,
            WebBookingCode.phone_hash == phone_hash,
            WebBookingCode.created_at > now - SEND_WINDOW,
        )
        .order_by(WebBookingCode.created_at.desc())
    ).all()
    if recent and recent[0] > now - RESEND_GAP:
        wait = recent[0] + RESEND_GAP - now
        raise TooManyCodes(
            "Wait a moment before asking for another code", retry_after=_seconds(wait)
        )
    if len(recent) >= MAX_SENDS:
        wait = recent[-1] + SEND_WINDOW - now
        raise TooManyCodes(
            "Too many codes for this number; try again later", retry_after=_seconds(wait)
        )
    sender = _sender(session, tenant_id, branch_id)
    code = f"{secrets.randbelow(1_000_000):06d}"
    salt = secrets.token_hex(16)
    row = WebBookingCode(
        tenant_id=tenant_id,
        phone_hash=phone_hash,
        salt=salt,
        code_hash=_hash(salt, code),
        expires_at=now + CODE_TTL,
        attempts=0,
        created_at=now,
    )
    session.add(row)
    session.flush()
    digits = e164.lstrip("+")
    message = Template(
        OTP_TEMPLATE, _otp_language(session, tenant_id, language), (code,), copy_code=code
    )
    recipient = Recipient(contact_key=digits, phone_number_id=sender, wa_id=digits)
    enqueue_intents(
        session,
        tenant_id=tenant_id,
        rows=[
            {
                "kind": SEND,
                "payload": to_payload(recipient, message),
                "dedupe_key": f"web-code:{row.id}",
            }
        ],
        at=now,
    )
    return CodeSent(row.expires_at, now + RESEND_GAP, _mask(e164))


def verify_code(
    session: Session, tenant_id: int, *, phone: str, code: str, vault: PhoneVault, now: dt.datetime
) -> CodeCheck:
    """Check the latest live code for ``phone``; a wrong try is counted (commit the result)."""
    phone_hash = vault.lookup_hash(normalise_phone(phone))
    code = (code or "").strip()
    if not (len(code) == 6 and code.isdigit()):
        raise ValidationFailed("Enter the 6-digit code from WhatsApp", field="code")
    row = session.scalar(
        select(WebBookingCode)
        .where(
            WebBookingCode.tenant_id == tenant_id,
            WebBookingCode.phone_hash == phone_hash,
            WebBookingCode.verified_at.is_(None),
        )
        .order_by(WebBookingCode.created_at.desc(), WebBookingCode.id.desc())
        .limit(1)
        .with_for_update()
    )
    if row is None or row.expires_at <= now:
        return CodeCheck(None, "The code has expired; ask for a new one")
    if row.attempts >= MAX_ATTEMPTS:
        return CodeCheck(None, "Too many wrong codes; ask for a new one")
    if not secrets.compare_digest(row.code_hash, _hash(row.salt, code)):
        row.attempts += 1
        left = MAX_ATTEMPTS - row.attempts
        if left == 0:
            return CodeCheck(None, "Too many wrong codes; ask for a new one")
        return CodeCheck(None, "That code is not right", attempts_left=left)
    ticket = secrets.token_urlsafe(24)
    row.verified_at = now
    row.ticket_hash = hashlib.sha256(ticket.encode()).hexdigest()
    return CodeCheck(ticket)


def consume_ticket(
    session: Session,
    tenant_id: int,
    *,
    ticket: str,
    phone: str,
    vault: PhoneVault,
    now: dt.datetime,
) -> str:
    """Use a verification ticket once; return the verified E.164 phone, else ``TicketInvalid``."""
    e164 = normalise_phone(phone)
    if not ticket or len(ticket) > 100:
        raise TicketInvalid()
    row = session.scalar(
        select(WebBookingCode)
        .where(
            WebBookingCode.tenant_id == tenant_id,
            WebBookingCode.ticket_hash == hashlib.sha256(ticket.encode()).hexdigest(),
        )
        .with_for_update()
    )
    if (
        row is None
        or row.used_at is not None
        or row.phone_hash != vault.lookup_hash(e164)
        or row.verified_at is None
        or row.verified_at + TICKET_TTL <= now
    ):
        raise TicketInvalid()
    row.used_at = now
    return e164


# --- booking ----------------------------------------------------------------------------------


def book_online(
    session: Session,
    tenant_id: int,
    *,
    ticket: str,
    phone: str,
    full_name: str,
    age_years: int | None,
    doctor_id: int,
    branch_id: int,
    slot_start: dt.datetime,
    vault: PhoneVault,
    now: dt.datetime,
    reminders: bool = True,
    idempotency_key: str | None = None,
    language: str = "en",
) -> WebBooking:
    """Book a live slot for a verified phone; ``SlotTaken`` (next free slots) on a lost race.

    The ticket is used only when the booking succeeds (the caller rolls back on an error), so
    the patient can pick an offered alternative without a new code. ``language``: the page's
    (``en``/``hi``); a new patient is registered in it, so their confirmation follows it.
    """
    check_aware(slot_start, "slot_start")
    branch = public_branch(session, tenant_id, branch_id)
    doctor = _doctor(session, tenant_id, doctor_id)
    if booking_mode(session, tenant_id, branch_id) != "live":
        raise ValidationFailed("This branch takes booking requests, not live slots", field="mode")
    e164 = consume_ticket(session, tenant_id, ticket=ticket, phone=phone, vault=vault, now=now)
    actor = web_actor(tenant_id, FrozenClock(now))
    busy = busy_blocks(session, tenant_id, doctor_id)
    if overlaps(busy, slot_start, slot_start + dt.timedelta(minutes=1)):
        raise SlotTaken(
            alternatives=next_public_slots(
                session,
                tenant_id,
                doctor_id=doctor_id,
                branch_id=branch_id,
                after=slot_start,
                now=now,
            )
        )
    patient = find_or_register(
        session,
        actor,
        vault=vault,
        phone=e164,
        full_name=full_name,
        age_years=age_years,
        reminders=reminders,
        late_code=True,  # the code is not shown here: the counter lock is held only at commit
        language=language if language in ("en", "hi") else "en",  # a new patient's: the page's
    )
    appt = book_appointment(
        session,
        actor,
        doctor_id=doctor_id,
        patient_id=patient.id,
        slot_start=slot_start,
        branch_id=branch_id,
        source="web",
        idempotency_key=idempotency_key,
    )
    zone = tenant_timezone(session, tenant_id, branch)
    return WebBooking(
        appt.id,
        patient.id,
        doctor.full_name,
        branch.name,
        appt.slot_start,
        appt.slot_start.astimezone(zone),
    )


def cancel_web_booking(
    session: Session, actor: Actor, *, appointment_id: int, reason: str
) -> Appointment:
    """Cancel an appointment; the patient is told over WhatsApp (``cancel_appointment``'s rule)."""
    return cancel_appointment(session, actor, appointment_id=appointment_id, reason=reason)


def find_or_register(
    session: Session,
    actor: Actor,
    *,
    vault: PhoneVault,
    phone: str,
    full_name: str,
    age_years: int | None,
    reminders: bool = True,
    late_code: bool = False,
    language: str = "en",
) -> Patient:
    """The clinic's patient with this phone and name, else a new registration (WhatsApp OTP).

    ``late_code``: a new patient's code is taken just before commit (see ``register_patient``).
    ``language``: a new patient's preferred language (the booking page's); a known patient keeps
    the one they chose before.
    """
    tenant_id = tenant_of(session, actor)
    name = " ".join((full_name or "").split())
    if not 2 <= len(name) <= 200:
        raise ValidationFailed("Enter the patient's full name", field="name")
    if age_years is not None and not 0 <= age_years <= 120:
        raise ValidationFailed("Age must be between 0 and 120", field="age")
    e164 = normalise_phone(phone)
    for patient in by_phone_hash(session, tenant_id, vault.lookup_hash(e164)):
        if patient.full_name.casefold() == name.casefold() and patient.erased_at is None:
            return patient
    grants = [ConsentGrant("whatsapp", True, "otp")]
    if reminders:
        grants.append(ConsentGrant("reminders", True, "otp"))
    registered = register_patient(
        session,
        actor,
        vault=vault,
        full_name=name,
        phone=e164,
        age_years=age_years,
        consents=grants,
        late_code=late_code,
        preferred_language=language,
    )
    return registered.patient


# --- helpers ----------------------------------------------------------------------------------


def _public(session: Session, tenant: Tenant) -> PublicClinic:
    origins = tuple(clinic_origins(session, tenant.id))
    return PublicClinic(tenant.id, tenant.slug, tenant.name, tenant.timezone, origins)


def _settings(session: Session, tenant_id: int) -> dict[str, Any]:
    settings = session.scalar(select(Tenant.settings).where(Tenant.id == tenant_id)) or {}
    return dict(settings.get(SETTINGS_KEY) or {})


def _modes(web: dict[str, Any]) -> dict[str, str]:
    return {str(k): str(v) for k, v in (web.get("modes") or {}).items()}


def public_branch(session: Session, tenant_id: int, branch_id: int) -> Branch:
    """An active branch of the clinic, or ``NotFound``."""
    branch = session.get(Branch, branch_id)
    if branch is None or branch.tenant_id != tenant_id or not branch.active:
        raise NotFound("Branch not found")
    return branch


def _doctor(session: Session, tenant_id: int, doctor_id: int) -> Doctor:
    doctor = session.get(Doctor, doctor_id)
    if doctor is None or doctor.tenant_id != tenant_id:
        raise NotFound("Doctor not found")
    return doctor


def _sender(session: Session, tenant_id: int, branch_id: int | None) -> str:
    rows = session.execute(
        select(WhatsAppNumber.phone_number_id, WhatsAppNumber.branch_id)
        .where(WhatsAppNumber.tenant_id == tenant_id)
        .order_by(WhatsAppNumber.phone_number_id)
    ).all()
    if not rows:
        raise ValidationFailed("This clinic cannot send WhatsApp codes yet", field="phone")
    own = [n for n, b in rows if b == branch_id]
    return own[0] if own else rows[0][0]


def _otp_language(session: Session, tenant_id: int, language: str) -> str:
    approved = approved_template(session, tenant_id, OTP_TEMPLATE, (language or "en")[:12])
    return approved.language if approved is not None else "en"


def _hash(salt: str, code: str) -> str:
    return hashlib.sha256(f"{salt}:{code}".encode()).hexdigest()


def _seconds(delta: dt.timedelta) -> int:
    return max(1, int(delta.total_seconds() + 0.999))


def _mask(e164: str) -> str:
    return e164[:3] + "•" * max(0, len(e164) - 7) + e164[-4:]
