"""A clinic with a WhatsApp number, a patient with a phone and a called token (shared helpers)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.clock import FrozenClock
from core.messaging import relay
from core.messaging.outbound import Action, Outcome
from core.patients.importing import PatientRow, import_patients
from core.patients.phones import PhoneVault
from core.queue.calling import call_next
from core.queue.issuing import issue_token
from db.models import (
    ConversationSession,
    MessageTemplate,
    OutboxMessage,
    QueueToken,
    WhatsAppNumber,
)
from tests.support import TEST_DATA_KEY, Clinic, add_doctor, at_desk, local, make_clinic

VAULT = PhoneVault(TEST_DATA_KEY)
MONDAY = dt.date(2026, 12, 7)
PHONE = "+919876543210"


@dataclass
class World:
    clinic: Clinic
    clock: FrozenClock
    patient_id: int
    token_id: int
    outbox_id: int  # the now-serving intent written by call_next
    phone_number_id: str


def build_world(
    session: Session, *, language: str = "en", slug: str | None = None, window: bool = True
) -> World:
    clinic = make_clinic(session, slug)
    clock = FrozenClock(local(clinic, MONDAY, 9))
    desk = at_desk(clinic, clock)
    doctor = add_doctor(session, clinic)
    (patient_id,) = import_patients(
        session, clinic.system, vault=VAULT, rows=[PatientRow("Meera Nair", phone=PHONE)]
    ).ids
    from db.models import Patient

    patient = session.get(Patient, patient_id)
    assert patient is not None
    patient.preferred_language = language
    pnid = f"1{clinic.tenant_id:05d}{clinic.branch.id:05d}"
    session.add(
        WhatsAppNumber(phone_number_id=pnid, tenant_id=clinic.tenant_id, branch_id=clinic.branch.id)
    )
    if window:
        open_window(session, clinic, clock.at)
    token = issue_token(
        session,
        desk,
        patient_id=patient_id,
        department_id=clinic.department.id,
        kind="walk_in",
        doctor_id=doctor.id,
    )
    call_next(session, desk, doctor_id=doctor.id)
    session.flush()
    outbox_id = session.execute(
        select(OutboxMessage.id).where(
            OutboxMessage.tenant_id == clinic.tenant_id,
            OutboxMessage.kind == "whatsapp.now_serving",
        )
    ).scalar_one()
    assert session.get(QueueToken, token.id) is not None
    session.execute(  # only the now-serving message is under test; the ETA intents wait
        update(OutboxMessage)
        .where(OutboxMessage.tenant_id == clinic.tenant_id, OutboxMessage.id != outbox_id)
        .values(status="parked")
    )
    return World(clinic, clock, patient_id, token.id, outbox_id, pnid)


def open_window(session: Session, clinic: Clinic, at: dt.datetime) -> None:
    session.add(
        ConversationSession(
            tenant_id=clinic.tenant_id,
            contact_key=PHONE.lstrip("+"),
            last_inbound_at=at - dt.timedelta(hours=1),
            created_at=at,
        )
    )
    session.flush()


def approve_template(session: Session, clinic: Clinic, name: str, language: str = "en") -> None:
    session.add(
        MessageTemplate(
            tenant_id=clinic.tenant_id,
            name=name,
            language=language,
            category="UTILITY",
            body="Token {{1}}, please go to {{2}}.",
            status="approved",
            created_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        )
    )
    session.flush()


def relay_once(
    session: Session,
    post,
    *,
    now: dt.datetime,
    tenants: list[int],
    worker: str = "test-worker",
    ids=None,
) -> list[Action | None]:
    """One relay pass over ``tenants``' rows inside the test's transaction.

    Claim, journal, post, record; other tests' committed rows on the shared database are left.
    """
    if ids is None:
        ids = list(
            session.execute(
                select(OutboxMessage.id).where(OutboxMessage.tenant_id.in_(tenants))
            ).scalars()
        )
    actions = []
    for outbox_id in relay.claim_due(session, worker=worker, now=now, outbox_ids=ids):
        attempt = relay.begin_send(session, outbox_id, worker=worker, vault=VAULT, now=now)
        if attempt is None:
            actions.append(None)
            continue
        outcome: Outcome = post(attempt.phone_number_id, attempt.body)
        actions.append(relay.finish_send(session, attempt, outcome, now=now))
    session.flush()
    session.expire_all()
    return actions
