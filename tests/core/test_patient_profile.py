"""The desk's patient profile: what reception sees, what it never sees, and that it is audited."""

from __future__ import annotations

import dataclasses
import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import select

from core.clock import FrozenClock
from core.patients import registry
from core.patients.background import add_allergy, add_condition
from core.patients.consent import ConsentGrant, record_consent
from core.patients.phones import PhoneVault
from core.patients.profile import patient_profile
from core.queue.issuing import issue_token
from core.scheduling.booking import book_appointment, cancel_appointment
from db.models import AuditEntry
from tests.support import add_doctor

VAULT = PhoneVault("test-key")
IST = ZoneInfo("Asia/Kolkata")
NOW = dt.datetime(2026, 12, 7, 4, 0, tzinfo=dt.UTC)  # Monday 09:30 in Kolkata


def test_profile_shows_demographics_guardian_consents_facts_and_history(session, clinic_a):
    desk = dataclasses.replace(clinic_a.receptionist, clock=FrozenClock(NOW))
    doctor = add_doctor(session, clinic_a)
    mother = registry.register_patient(session, desk, vault=VAULT, full_name="Meena Rao").patient
    child = registry.register_patient(
        session, desk, vault=VAULT, full_name="Ravi Rao", phone="98765 43210", age_years=42,
        gender="m",
    ).patient  # fmt: skip
    registry.update_patient(
        session, desk, child.id, vault=VAULT, guardian_patient_id=mother.id,
        guardian_relation="mother",
    )  # fmt: skip
    record_consent(session, desk, child.id, grant=ConsentGrant("reminders"))
    add_allergy(session, desk, child.id, substance="Penicillin", reaction="rash")
    add_condition(session, desk, child.id, name="Asthma")
    eleven = dt.datetime(2026, 12, 7, 11, tzinfo=IST)
    appt = book_appointment(
        session, desk, doctor_id=doctor.id, patient_id=child.id, slot_start=eleven
    )
    cancel_appointment(session, desk, appointment_id=appt.id, reason="Patient asked")
    issue_token(
        session, desk, patient_id=child.id, department_id=clinic_a.department.id, kind="walk_in"
    )
    p = patient_profile(session, desk, patient_id=child.id, vault=VAULT)
    assert (p.full_name, p.age, p.gender) == ("Ravi Rao", 42, "male")
    assert p.masked_phone == "98XXXXXX10"
    assert p.guardian == f"Meena Rao · {mother.code}" and p.guardian_relation == "mother"
    assert p.consents == {"reminders": True}
    assert (p.allergies, p.conditions) == (("Penicillin (rash)",), ("Asthma",))
    (line,) = p.appointments
    assert (line.when, line.who, line.status, line.note) == (
        "07 Dec 2026 11:00", "Dr. Asha Rao", "cancelled", "Patient asked",
    )  # fmt: skip
    (token,) = p.tokens
    assert token.what.endswith("walk-in") and token.status == "waiting"
    assert p.visits == () and p.bills == ()
    assert not any("note" in f.name.lower() and "clinical" in f.name.lower()
                   for f in dataclasses.fields(p))  # fmt: skip
    reads = session.scalars(
        select(AuditEntry.action).where(
            AuditEntry.entity == "patient", AuditEntry.entity_id == str(child.id)
        )
    ).all()
    assert "patient.read" in reads
