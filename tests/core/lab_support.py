"""A clinic with a lab catalogue, a doctor with a login and a patient in consultation."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import Session

from core.auth.users import actor_for
from core.clinical.consultations import open_consultation
from core.clinical.lab_catalogue import LabTestSpec, add_lab_test
from core.clock import FrozenClock
from core.context import Actor
from core.queue.calling import call_next
from core.queue.issuing import issue_token
from db.models import Doctor, QueueToken
from qlink import builder
from tests.support import Clinic, add_doctor, local, register_patients

MONDAY = dt.date(2026, 12, 7)
TESTS = (
    LabTestSpec("FBS", "Blood sugar (fasting)", "mg/dL", 70, 100),
    LabTestSpec("HB", "Haemoglobin", "g/dL", 13, 17, 12, 15),
    LabTestSpec("XRK", "X-ray knee (AP/lateral)", result_kind="text"),
)


@dataclass(frozen=True)
class Visit:
    token: QueueToken
    consultation_id: int

    @property
    def id(self) -> int:
        return self.token.id

    @property
    def patient_id(self) -> int:
        return self.token.patient_id

    @property
    def code(self) -> str:
        return self.token.code


@dataclass
class Lab:
    clock: FrozenClock
    desk: Actor
    doctor: Actor
    tech: Actor
    doctor_row: Doctor
    tests: dict[str, int]


def set_up_lab(session: Session, clinic: Clinic) -> Lab:
    """Catalogue, doctor login and clocks for ``clinic`` (Monday 09:00 on its wall clock)."""
    clock = FrozenClock(local(clinic, MONDAY, 9))
    doctor = add_doctor(session, clinic, name=f"Dr. Lab {clinic.tenant.slug}")
    login = builder.StaffSpec(f"dr.{clinic.tenant.slug}", "correct-horse-1", "Dr. Lab", "doctor")
    user = builder.add_doctor_login(
        session, clinic.admin, doctor=doctor, branch_id=clinic.branch.id, login=login
    )
    tests = {s.code: add_lab_test(session, clinic.admin, spec=s).id for s in TESTS}

    def timed(actor: Actor) -> Actor:
        return dataclasses.replace(actor, clock=clock)

    return Lab(
        clock, timed(clinic.receptionist), timed(actor_for(user)), timed(clinic.lab), doctor, tests
    )


def patient_in_consultation(
    session: Session, clinic: Clinic, lab: Lab, *, gender: str | None = None
) -> Visit:
    """Register a patient, issue a token to the lab's doctor, call it and open the visit."""
    (patient_id,) = register_patients(session, clinic, 1, prefix=f"Lab {gender or 'x'}")
    if gender is not None:
        from db.models import Patient

        row = session.get(Patient, patient_id)
        assert row is not None
        row.gender = gender
        session.flush()
    token = issue_token(
        session,
        lab.desk,
        patient_id=patient_id,
        department_id=clinic.department.id,
        kind="walk_in",
        doctor_id=lab.doctor_row.id,
    )
    lab.clock.advance(minutes=1)
    assert call_next(session, lab.doctor, doctor_id=lab.doctor_row.id).id == token.id
    consultation = open_consultation(session, lab.doctor, token_id=token.id)
    row = session.get(QueueToken, token.id)
    assert row is not None
    return Visit(row, consultation.id)
