"""A clinic with a WhatsApp number and a booked patient who consented to reminders."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.clock import FrozenClock
from core.patients.consent import ConsentGrant, record_consent
from core.patients.importing import PatientRow, import_patients
from core.scheduling.booking import book_appointment
from db.models import OutboxMessage, Patient, WhatsAppNumber
from tests.support import Clinic, add_doctor, at_desk, local, make_clinic
from tests.workers.outbound_world import MONDAY, PHONE, VAULT

TUESDAY = MONDAY + dt.timedelta(days=1)


@dataclass
class ReminderWorld:
    clinic: Clinic
    patient_id: int
    appointment_id: int
    slot: dt.datetime  # Tuesday 10:00 clinic time


def reminder_world(
    session: Session,
    *,
    phone: str | None = PHONE,
    consent: bool | None = True,
    language: str = "en",
    slug: str | None = None,
) -> ReminderWorld:
    clinic = make_clinic(session, slug)
    desk = at_desk(clinic, FrozenClock(local(clinic, MONDAY, 9)))
    doctor = add_doctor(session, clinic, name="Dr. Asha Rao")
    (patient_id,) = import_patients(
        session, clinic.system, vault=VAULT, rows=[PatientRow("Meera Nair", phone=phone)]
    ).ids
    patient = session.get(Patient, patient_id)
    assert patient is not None
    patient.preferred_language = language
    if consent is not None:
        record_consent(session, desk, patient_id, grant=ConsentGrant("reminders", granted=consent))
    pnid = f"2{clinic.tenant_id:05d}{clinic.branch.id:05d}"
    session.add(
        WhatsAppNumber(phone_number_id=pnid, tenant_id=clinic.tenant_id, branch_id=clinic.branch.id)
    )
    slot = local(clinic, TUESDAY, 10)
    appointment = book_appointment(
        session, desk, doctor_id=doctor.id, patient_id=patient_id, slot_start=slot
    )
    session.flush()
    return ReminderWorld(clinic, patient_id, appointment.id, slot)


def reminder_rows(session: Session, clinic: Clinic) -> list[OutboxMessage]:
    return list(
        session.execute(
            select(OutboxMessage)
            .where(
                OutboxMessage.tenant_id == clinic.tenant_id,
                OutboxMessage.kind.like("whatsapp.reminder%"),
            )
            .order_by(OutboxMessage.id)
        ).scalars()
    )
