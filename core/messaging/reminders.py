"""Appointment reminders 24 hours and 1 hour before the slot, written as outbox intents.

``write_reminders`` runs every minute (the ticker). An appointment still ``scheduled`` whose
slot starts within 24 hours (and more than one hour away) gets a ``whatsapp.reminder_24h``
intent; within the hour, a ``whatsapp.reminder_1h`` one. The dedupe key
``reminder:{appointment_id}:24h`` / ``:1h`` and the outbox's unique ``(tenant_id, dedupe_key)``
make a second run, or a second process, write nothing. Only patients with a WhatsApp contact
(phone or BSUID) whose latest ``reminders`` consent is granted are reminded. The relay renders
the intent (``core.messaging.notify``): the approved template ``qlink_reminder_24h`` /
``qlink_reminder_1h`` (patient name, doctor, date/time, branch) outside the 24-hour window.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import String, and_, cast, exists, literal, or_, select
from sqlalchemy.orm import Session

from core.queue.events import enqueue_intents
from db.models import Appointment, Branch, Consent, Doctor, OutboxMessage, Patient, Tenant

REMINDER_24H = "whatsapp.reminder_24h"
REMINDER_1H = "whatsapp.reminder_1h"
REMINDERS = (REMINDER_24H, REMINDER_1H)
# kind -> (label, starts after now + near, starts by now + far)
WINDOWS = {
    REMINDER_24H: ("24h", dt.timedelta(hours=1), dt.timedelta(hours=24)),
    REMINDER_1H: ("1h", dt.timedelta(0), dt.timedelta(hours=1)),
}


def dedupe_key(appointment_id: int, label: str) -> str:
    return f"reminder:{appointment_id}:{label}"


def write_reminders(session: Session, *, now: dt.datetime) -> int:
    """Write the reminder intents due at ``now`` for every clinic; return how many were new.

    Platform scope (all tenants). Safe to run twice or concurrently: the dedupe key decides.
    """
    written = 0
    for kind, (label, near, far) in WINDOWS.items():
        due = session.execute(_due(kind, label, now + near, now + far)).all()
        by_tenant: dict[int, list[dict[str, Any]]] = {}
        for tenant_id, appointment_id in due:
            by_tenant.setdefault(tenant_id, []).append(
                {
                    "kind": kind,
                    "payload": {"appointment_id": appointment_id},
                    "dedupe_key": dedupe_key(appointment_id, label),
                }
            )
        for tenant_id, rows in by_tenant.items():
            enqueue_intents(session, tenant_id=tenant_id, rows=rows, at=now)
            written += len(rows)
    return written


def _due(kind: str, label: str, after: dt.datetime, by: dt.datetime) -> Any:
    key = literal("reminder:") + cast(Appointment.id, String) + literal(f":{label}")
    already = exists().where(
        OutboxMessage.tenant_id == Appointment.tenant_id,
        OutboxMessage.dedupe_key == key,
    )
    latest_consent = (
        select(Consent.granted)
        .where(
            Consent.tenant_id == Appointment.tenant_id,
            Consent.patient_id == Appointment.patient_id,
            Consent.purpose == "reminders",
        )
        .order_by(Consent.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    return (
        select(Appointment.tenant_id, Appointment.id)
        .join(
            Patient,
            and_(Patient.tenant_id == Appointment.tenant_id, Patient.id == Appointment.patient_id),
        )
        .where(
            Appointment.status == "scheduled",
            Appointment.slot_start > after,
            Appointment.slot_start <= by,
            Patient.erased_at.is_(None),
            or_(Patient.phone_cipher.is_not(None), Patient.wa_bsuid.is_not(None)),
            latest_consent.is_(True),
            ~already,
        )
        .order_by(Appointment.tenant_id, Appointment.id)
    )


@dataclass(frozen=True)
class Reminder:
    """What a reminder says: whose appointment, with whom, when (clinic time) and where."""

    patient: Patient
    branch_id: int
    key: str  # catalogue key, e.g. notify.reminder_24h
    params: dict[str, str]  # "when" in English; notify renders it in the patient's language
    starts_at: dt.datetime | None = None
    zone: ZoneInfo | None = None


class NoReminder(Exception):
    """The appointment is gone or no longer scheduled: nothing to remind."""


def reminder_for(session: Session, tenant_id: int, kind: str, payload: dict[str, Any]) -> Reminder:
    """Load the appointment of a reminder intent and its template parameters."""
    row = session.execute(
        select(
            Appointment, Patient, Doctor.full_name, Branch.name, Branch.timezone, Tenant.timezone
        )
        .join(Patient, and_(Patient.tenant_id == tenant_id, Patient.id == Appointment.patient_id))
        .join(Doctor, and_(Doctor.tenant_id == tenant_id, Doctor.id == Appointment.doctor_id))
        .join(Branch, and_(Branch.tenant_id == tenant_id, Branch.id == Appointment.branch_id))
        .join(Tenant, Tenant.id == Appointment.tenant_id)
        .where(Appointment.tenant_id == tenant_id, Appointment.id == payload["appointment_id"])
    ).first()
    if row is None or row[0].status != "scheduled":
        raise NoReminder("the appointment is no longer scheduled")
    appointment, patient, doctor, branch, branch_tz, tenant_tz = row
    when = appointment.slot_start.astimezone(ZoneInfo(branch_tz or tenant_tz))
    params = {
        "name": patient.full_name,
        "doctor": doctor,
        "when": when.strftime("%d %b %Y, %H:%M"),
        "branch": branch,
    }
    key = "notify." + kind.split(".", 1)[1]
    zone = ZoneInfo(branch_tz or tenant_tz)
    return Reminder(patient, appointment.branch_id, key, params, appointment.slot_start, zone)
