"""Bulk patient import: the same rules, codes and phone handling as one registration."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from core.errors import PermissionDenied, ValidationFailed
from core.patients import ConsentGrant, PhoneVault, register_patient, search_patients
from core.patients.importing import PatientRow, import_patients
from db.models import AuditEntry, Consent, Patient

PHONE = "98765 43210"


@pytest.fixture
def vault():
    return PhoneVault("test-data-key")


def patient_count(session, tenant_id):
    query = select(func.count()).select_from(Patient).where(Patient.tenant_id == tenant_id)
    return session.scalar(query)


def test_imported_patients_get_contiguous_codes_after_registered_ones(session, clinic_a, vault):
    desk = clinic_a.receptionist
    first = register_patient(session, desk, vault=vault, full_name="Asha Rao").patient
    rows = [PatientRow(f"Imported Person {n}") for n in range(5)]
    ids = import_patients(session, desk, vault=vault, rows=rows).ids
    after = register_patient(session, desk, vault=vault, full_name="Vikram Singh").patient
    codes = [session.get(Patient, i).code for i in ids]
    assert first.code == "PAT0001"
    assert codes == ["PAT0002", "PAT0003", "PAT0004", "PAT0005", "PAT0006"]
    assert after.code == "PAT0007"
    assert [session.get(Patient, i).full_name for i in ids] == [r.full_name for r in rows]


def test_imported_phone_is_encrypted_and_searchable(session, clinic_a, vault):
    desk = clinic_a.receptionist
    (pid,) = import_patients(
        session, desk, vault=vault, rows=[PatientRow("Kavitha Raman", phone=PHONE)]
    ).ids
    stored = session.get(Patient, pid)
    assert stored.phone_last4 == "3210"
    assert vault.decrypt(stored.phone_cipher) == "+919876543210"
    assert PHONE.replace(" ", "").encode() not in stored.phone_cipher
    for query in ("+91 98765 43210", "3210", "Kavitha"):
        assert [p.id for p in search_patients(session, desk, vault=vault, query=query)] == [pid]


def test_same_phone_and_similar_name_warns_like_registration(session, clinic_a, vault):
    desk = clinic_a.receptionist
    existing = register_patient(
        session, desk, vault=vault, full_name="Ravi Sharma", phone=PHONE
    ).patient
    rows = [
        PatientRow("ravi  shrama", phone="+919876543210"),  # like the registered one
        PatientRow("Meena Sharma", phone=PHONE),  # a relative on the family phone
        PatientRow("Meena Sharma", phone=PHONE),  # the same person twice in the file
    ]
    result = import_patients(session, desk, vault=vault, rows=rows)
    assert set(result.duplicates) == {0, 2}
    assert [w.patient.id for w in result.duplicates[0]] == [existing.id]
    assert [w.patient.id for w in result.duplicates[2]] == [result.ids[1]]
    assert result.duplicates[2][0].patient.masked_phone == "98XXXXXX10"
    assert patient_count(session, clinic_a.tenant_id) == 4  # warnings, not refusals


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        (PatientRow(""), "full_name"),
        (PatientRow("Anil Kumar", phone="12345"), "phone"),
        (PatientRow("Anil Kumar", date_of_birth=dt.date(2999, 1, 1)), "date_of_birth"),
        (PatientRow("Anil Kumar", blood_group="Z+"), "blood_group"),
        (PatientRow("Little Anil", age_years=6), "guardian_patient_id"),
        (PatientRow("Anil Kumar", consents=(ConsentGrant("marketing"),)), "consents"),
        (PatientRow("Anil Kumar", guardian_patient_id=987654321), "guardian_patient_id"),
    ],
)
def test_one_bad_row_rejects_the_whole_import_and_writes_nothing(
    session, clinic_a, vault, bad, field
):
    desk = clinic_a.receptionist
    before = patient_count(session, clinic_a.tenant_id)
    rows = [PatientRow("Good Person"), bad, PatientRow("Another Good Person")]
    with pytest.raises(ValidationFailed) as caught:
        import_patients(session, desk, vault=vault, rows=rows)
    assert caught.value.field == field
    assert caught.value.details["row"] == 1
    assert patient_count(session, clinic_a.tenant_id) == before
    # the failed import took no codes: the next registration is still PAT0001
    patient = register_patient(session, desk, vault=vault, full_name="Next Person").patient
    assert patient.code == "PAT0001"


def test_a_minor_with_guardian_consent_is_imported_with_the_consents(session, clinic_a, vault):
    grants = (ConsentGrant("treatment", by_guardian=True),)
    row = PatientRow("Little Anil", age_years=6, guardian_relation="mother", consents=grants)
    (pid,) = import_patients(session, clinic_a.receptionist, vault=vault, rows=[row]).ids
    consent = session.scalars(select(Consent).where(Consent.patient_id == pid)).one()
    assert (consent.purpose, consent.granted, consent.method) == (
        "treatment",
        True,
        "guardian:desk",
    )


def test_import_is_audited_once_without_patient_data(session, clinic_a, vault):
    rows = [PatientRow(f"Audit Person {n}", phone=PHONE) for n in range(3)]
    import_patients(session, clinic_a.receptionist, vault=vault, rows=rows)
    entry = session.scalars(
        select(AuditEntry).where(
            AuditEntry.tenant_id == clinic_a.tenant_id, AuditEntry.action == "patient.import"
        )
    ).one()
    assert entry.detail["count"] == 3
    assert entry.detail["codes"] == ["PAT0001", "PAT0003"]
    assert "Audit" not in str(entry.detail) and "3210" not in str(entry.detail)


def test_lab_technician_may_not_import_patients(session, clinic_a, vault):
    with pytest.raises(PermissionDenied):
        import_patients(session, clinic_a.lab, vault=vault, rows=[PatientRow("Anil Kumar")])
    assert patient_count(session, clinic_a.tenant_id) == 0


def test_another_clinics_guardian_is_not_found(session, clinic_a, clinic_b, vault):
    parent = register_patient(session, clinic_b.system, vault=vault, full_name="Parent B").patient
    row = PatientRow("Little Anil", age_years=6, guardian_patient_id=parent.id)
    with pytest.raises(ValidationFailed) as caught:
        import_patients(session, clinic_a.receptionist, vault=vault, rows=[row])
    assert caught.value.field == "guardian_patient_id"
    assert patient_count(session, clinic_a.tenant_id) == 0
