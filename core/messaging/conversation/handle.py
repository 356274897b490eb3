"""The entry point: answer one inbound message by advancing the contact's conversation.

Routing, in order: media and locations get "please type"; reactions and system notices get
nothing; a language word or button switches language; an unknown sender is registered first;
``CHECKIN <branch>`` checks in from any state; a tapped menu row or rating opens its flow; a
tapped Accept / Decline answers a waiting-list offer (and Accept / another time a proposed
time, before onboarding: a web requester may be new here);
the current step takes its answer; a typed keyword opens a menu item; anything else gets the
menu (with a greeting by name when the conversation was idle), never silence.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy import exists, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from core.context import Actor, tenant_of
from core.errors import DomainError, NotFound, PermissionDenied, ValidationFailed
from core.messaging.catalogue import DEFAULT_LANGUAGE, LANGUAGES
from core.messaging.conversation import (
    book_flow,
    contact,
    flow_booking,
    manage,
    offers,
    proposals,
    records,
    self_service,
    visits,
)
from core.messaging.conversation.menu import (
    KEYWORDS,
    ask_language,
    language_asked,
    send_menu,
    set_language,
    typed,
)
from core.messaging.conversation.onboarding import onboard
from core.messaging.conversation.turn import (
    FLOW_KEY,
    IDLE,
    TokenLinks,
    Turn,
    dedupe_key,
    save,
    timed_out,
)
from core.messaging.inbound_types import InboundMessage
from core.patients.identity import find_by_whatsapp
from core.patients.phones import PhoneVault
from core.tenancy import tenant_timezone
from db.models import (
    Branch,
    ConversationSession,
    OutboxMessage,
    Patient,
    Tenant,
    WhatsAppNumber,
)

SILENT = frozenset({"reaction", "system"})
PLEASE_TYPE = frozenset({"location", "media", "contacts", "unsupported"})
STEPS: dict[str, Callable[[Turn], bool]] = {
    **book_flow.STEPS,
    **visits.STEPS,
    **manage.STEPS,
    **records.STEPS,
}
ACTIONS: dict[str, Callable[[Turn], None]] = {
    "book": flow_booking.start_booking,
    flow_booking.LIST_STEPS: book_flow.start_booking,
    "status": visits.tell_status,
    "checkin": lambda turn: _say_idle(turn, "conv.checkin.how"),
    "manage": manage.start_manage,
    "rx": records.send_prescriptions,
    "records": self_service.send_records_link,
    "rate": records.start_rating,
    "language": ask_language,
}


def handle_inbound(
    session: Session,
    actor: Actor,
    *,
    message: InboundMessage,
    vault: PhoneVault,
    links: TokenLinks | None = None,
) -> None:
    """Answer one inbound message: update the contact's session and queue the replies.

    Replies go to the outbox (kind ``SEND``) keyed by the inbound message id, so a message
    processed twice is answered once. The session row is updated by compare-and-set
    (``Conflict`` when another worker answered this contact meanwhile; retry). Without
    ``links`` token replies carry no tracking link.
    """
    if tenant_of(session, actor) != message.tenant_id:
        raise PermissionDenied("The message belongs to another clinic")
    if message.kind in SILENT or _already_answered(session, message):
        return
    turn = _open(session, actor, message, vault, links)
    try:
        with session.begin_nested():
            _route(turn)
    except DomainError as exc:  # a rule refused the step: say why, back to the menu
        turn.replies = []
        turn.say("conv.error", reason=turn.t(reason_key(exc)))
        send_menu(turn)
    save(turn)


def reason_key(exc: DomainError) -> str:
    """The catalogue key telling a patient why a rule refused: by the error's stable code,
    never core's English message (which is written for staff and logs)."""
    key = f"conv.reason.{exc.code}"
    return key if key in LANGUAGES[DEFAULT_LANGUAGE] else "conv.reason.generic"


def _route(turn: Turn) -> None:
    kind = turn.message.kind
    if contact.on_turn(turn, ACTIONS):  # request_contact_info before booking, and its answer
        return
    if kind in PLEASE_TYPE:
        turn.say("conv.please_type")
        return
    if proposals.on_proposal_reply(turn):  # Accept / another time of a proposed time
        return
    lang = language_asked(turn)
    if lang is not None:
        set_language(turn, lang)
        if turn.patient is None:
            onboard(turn)
        return
    if turn.patient is None:
        onboard(turn)
        return
    _route_known(turn)


def _route_known(turn: Turn) -> None:
    if turn.message.kind == "flow_reply":
        flow_booking.on_flow_reply(turn)
        return
    text, choice = typed(turn), turn.message.reply_id or ""
    slug = visits.checkin_slug(text)
    if slug is not None:
        visits.check_in(turn, slug)
        return
    if choice.startswith("menu:") and choice[5:] in ACTIONS:
        ACTIONS[choice[5:]](turn)
        return
    if choice.startswith("rate:") and records.on_rating(turn):
        return
    if offers.on_offer_reply(turn):  # Accept / Decline of a waiting-list offer
        return
    if turn.state == IDLE and records.on_score(turn):
        return
    step = STEPS.get(turn.state)
    if step is not None and step(turn):
        return
    item = KEYWORDS.get(text.casefold())
    if item is not None:
        ACTIONS[item](turn)
        return
    if turn.state == IDLE:
        assert turn.patient is not None
        turn.say("conv.greet", name=turn.patient.full_name, clinic=turn.clinic)
    else:
        turn.say("conv.unknown")
    send_menu(turn)


def _say_idle(turn: Turn, key: str) -> None:
    turn.say(key)
    turn.go(IDLE)


def _open(
    session: Session,
    actor: Actor,
    message: InboundMessage,
    vault: PhoneVault,
    links: TokenLinks | None,
) -> Turn:
    now = actor.clock()
    branch = _branch(session, message)  # first: an unrouted number writes nothing
    row = _load_row(session, message, now)
    patient = _patient(session, actor, row, message, vault)
    first_contact = row.last_inbound_at is None
    lang = patient.preferred_language if first_contact and patient else row.language
    data = dict(row.data or {})
    if timed_out(row, now):  # back to the menu; an open booking Flow stays valid
        state, data = IDLE, {k: v for k, v in data.items() if k == FLOW_KEY}
    else:
        state = row.state
    clinic = session.scalar(select(Tenant.name).where(Tenant.id == message.tenant_id)) or ""
    return Turn(
        session=session,
        actor=actor,
        message=message,
        vault=vault,
        tenant_id=message.tenant_id,
        branch_id=branch.id,
        clinic=clinic,
        zone=tenant_timezone(session, message.tenant_id, branch),
        session_id=row.id,
        version=row.version,
        state=state,
        data=data,
        lang=lang,
        patient=patient,
        links=links,
        now=now,
    )


def _branch(session: Session, message: InboundMessage) -> Branch:
    branch = session.scalar(
        select(Branch)
        .join(WhatsAppNumber, WhatsAppNumber.branch_id == Branch.id)
        .where(
            WhatsAppNumber.phone_number_id == message.phone_number_id,
            WhatsAppNumber.tenant_id == message.tenant_id,
            Branch.tenant_id == message.tenant_id,
        )
    )
    if branch is None:
        raise NotFound("This WhatsApp number is not routed to a branch of the clinic")
    return branch


def _patient(
    session: Session,
    actor: Actor,
    row: ConversationSession,
    message: InboundMessage,
    vault: PhoneVault,
) -> Patient | None:
    """Return the patient the sender is: remembered on the session, else matched by identity."""
    if row.patient_id is not None:
        known = session.get(Patient, row.patient_id)
        if known is not None and known.tenant_id == message.tenant_id and not known.erased_at:
            return known
    try:
        matches = find_by_whatsapp(
            session, actor, vault=vault, phone=message.wa_id, bsuid=message.user_id
        )
    except ValidationFailed:  # a number that is no phone number: treat the sender as new
        return None
    return next((p for p in matches if not p.erased_at), None)


def _already_answered(session: Session, message: InboundMessage) -> bool:
    """Return whether a reply to this inbound message is already in the outbox."""
    key = dedupe_key(message.wa_message_id, 0)
    return bool(
        session.scalar(
            select(
                exists().where(
                    OutboxMessage.tenant_id == message.tenant_id,
                    OutboxMessage.dedupe_key == key,
                )
            )
        )
    )


def _load_row(session: Session, message: InboundMessage, now: dt.datetime) -> ConversationSession:
    """Return the contact's session row, creating it on first contact (race-safe upsert)."""
    values = {
        "tenant_id": message.tenant_id,
        "contact_key": message.contact_key,
        "state": IDLE,
        "data": {},
        "language": "en",
        "version": 1,
        "created_at": now,
        "updated_at": now,
    }
    connection = session.connection()
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    connection.execute(
        dialect.insert(ConversationSession)
        .values(values)
        .on_conflict_do_nothing(index_elements=["tenant_id", "contact_key"])
    )
    row = session.scalars(
        select(ConversationSession)
        .where(
            ConversationSession.tenant_id == message.tenant_id,
            ConversationSession.contact_key == message.contact_key,
        )
        .execution_options(populate_existing=True)
    ).one()
    return row
