from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from core import audit
from core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from core.patients import (
    ConsentGrant,
    PhoneVault,
    add_allergy,
    add_condition,
    add_medication,
    patient_background,
    record_consent,
    register_patient,
    retract_fact,
)
from db.models import Consent, PatientAllergy


@pytest.fixture
def patient(session, clinic_a):
    vault = PhoneVault("test-data-key")
    return register_patient(
        session, clinic_a.receptionist, vault=vault, full_name="Ravi Sharma"
    ).patient


def test_background_lists_allergies_conditions_and_medications(session, clinic_a, patient):
    desk = clinic_a.receptionist
    add_allergy(
        session, desk, patient.id, substance="Penicillin", reaction="rash", severity="severe"
    )
    add_condition(
        session,
        desk,
        patient.id,
        name="Type 2 diabetes",
        icd10_code="e11.9",
        since=dt.date(2015, 1, 1),
    )
    add_medication(session, desk, patient.id, name="Metformin", dosage="500 mg BD")
    background = patient_background(session, desk, patient.id)
    assert [a.substance for a in background.allergies] == ["Penicillin"]
    assert [(c.name, c.icd10_code) for c in background.conditions] == [("Type 2 diabetes", "E11.9")]
    assert [m.dosage for m in background.medications] == ["500 mg BD"]


def test_retraction_keeps_the_row_and_hides_it_from_background(session, clinic_a, patient):
    desk = clinic_a.receptionist
    allergy = add_allergy(session, desk, patient.id, substance="Sulfa")
    retract_fact(session, desk, kind="allergy", fact_id=allergy.id, reason="entered in error")
    row = session.scalars(select(PatientAllergy).where(PatientAllergy.id == allergy.id)).one()
    assert row.retracted_at is not None
    assert row.retracted_by == desk.user_id
    assert row.retraction_reason == "entered in error"
    assert patient_background(session, desk, patient.id).allergies == ()


def test_retracting_twice_is_a_conflict(session, clinic_a, patient):
    desk = clinic_a.receptionist
    med = add_medication(session, desk, patient.id, name="Aspirin")
    retract_fact(session, desk, kind="medication", fact_id=med.id, reason="stopped")
    with pytest.raises(Conflict):
        retract_fact(session, desk, kind="medication", fact_id=med.id, reason="again")


def test_retraction_needs_a_reason(session, clinic_a, patient):
    cond = add_condition(session, clinic_a.receptionist, patient.id, name="Asthma")
    with pytest.raises(ValidationFailed):
        retract_fact(session, clinic_a.receptionist, kind="condition", fact_id=cond.id, reason="  ")


def test_bad_facts_are_rejected(session, clinic_a, patient):
    desk = clinic_a.receptionist
    with pytest.raises(ValidationFailed):
        add_allergy(session, desk, patient.id, substance="  ")
    with pytest.raises(ValidationFailed):
        add_allergy(session, desk, patient.id, substance="Dust", severity="catastrophic")
    with pytest.raises(ValidationFailed):
        add_condition(session, desk, patient.id, name="Asthma", icd10_code="asthma")
    with pytest.raises(ValidationFailed):
        add_condition(
            session, desk, patient.id, name="Asthma", since=dt.date.today() + dt.timedelta(days=3)
        )


def test_outsider_cannot_add_read_or_retract_facts(session, clinic_a, clinic_b, patient):
    allergy = add_allergy(session, clinic_a.receptionist, patient.id, substance="Latex")
    outsider = clinic_b.receptionist
    with pytest.raises(NotFound):
        add_allergy(session, outsider, patient.id, substance="Peanut")
    with pytest.raises(NotFound):
        patient_background(session, outsider, patient.id)
    with pytest.raises(NotFound):
        retract_fact(session, outsider, kind="allergy", fact_id=allergy.id, reason="x")
    with pytest.raises(NotFound):
        record_consent(session, outsider, patient.id, grant=ConsentGrant("research"))
    assert allergy.retracted_at is None


def test_lab_technician_cannot_write_facts(session, clinic_a, patient):
    with pytest.raises(PermissionDenied):
        add_medication(session, clinic_a.lab, patient.id, name="Paracetamol")


def test_consent_changes_are_appended_not_overwritten(session, clinic_a, patient):
    desk = clinic_a.receptionist
    record_consent(session, desk, patient.id, grant=ConsentGrant("whatsapp"))
    record_consent(session, desk, patient.id, grant=ConsentGrant("whatsapp", granted=False))
    rows = session.scalars(
        select(Consent.granted).where(Consent.patient_id == patient.id).order_by(Consent.id)
    ).all()
    assert rows == [True, False]


def test_fact_writes_are_audited_and_chain_verifies(session, clinic_a, patient):
    desk = clinic_a.receptionist
    allergy = add_allergy(session, desk, patient.id, substance="Iodine")
    retract_fact(session, desk, kind="allergy", fact_id=allergy.id, reason="duplicate")
    report = audit.verify_chain(session, clinic_a.tenant_id)
    assert report.ok
