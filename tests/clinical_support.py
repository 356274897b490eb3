"""A doctor at work in clinic_a: a doctor account, a patient called in, a consultation open."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import Session

from core.auth.users import actor_for, create_user
from core.clinical.consultations import open_consultation
from core.clock import FrozenClock
from core.context import Actor
from core.queue.calling import call_next
from core.queue.issuing import issue_token
from db.models import Consultation, Doctor
from tests.support import Clinic, add_doctor, register_patients

NOW = dt.datetime(2026, 12, 8, 4, 50, tzinfo=dt.UTC)  # Tuesday 10:20 in Kolkata
DAY = dt.date(2026, 12, 8)


@dataclass
class Room:
    clinic: Clinic
    doctor: Doctor
    dr: Actor
    patient_id: int
    token_id: int
    consultation: Consultation


def doctor_actor(session: Session, clinic: Clinic, doctor: Doctor, when: dt.datetime) -> Actor:
    user = create_user(
        session,
        clinic.admin,
        username=f"dr.{doctor.id}.{clinic.tenant.slug}",
        password="correct-horse-1",
        full_name=doctor.full_name,
        role="doctor",
        doctor_id=doctor.id,
    )
    return dataclasses.replace(actor_for(user), clock=FrozenClock(when))


def call_in(session: Session, clinic: Clinic, doctor: Doctor, dr: Actor, patient_id: int) -> int:
    desk = dataclasses.replace(clinic.receptionist, clock=dr.clock)
    token = issue_token(
        session,
        desk,
        patient_id=patient_id,
        department_id=clinic.department.id,
        kind="walk_in",
        doctor_id=doctor.id,
    )
    called = call_next(session, dr, doctor_id=doctor.id)
    assert called is not None and called.id == token.id
    return token.id


def room(
    session: Session, clinic: Clinic, *, when: dt.datetime = NOW, name: str = "Dr. Kumar"
) -> Room:
    doctor = add_doctor(session, clinic, name=name, fee_minor=50000)
    dr = doctor_actor(session, clinic, doctor, when)
    (patient_id,) = register_patients(session, clinic, 1, prefix="Knee")
    token_id = call_in(session, clinic, doctor, dr, patient_id)
    consultation = open_consultation(session, dr, token_id=token_id)
    return Room(clinic, doctor, dr, patient_id, token_id, consultation)
