"""The consultation record: doctors write append-only versions; reads are audited."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from core.clinical import records
from core.clinical.consultations import open_consultation
from core.clinical.icd10 import icd10_title, search_icd10
from core.clinical.views import consultation_record
from core.clinical.vitals import VitalsInput
from core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from db.models import AuditEntry, ConsultationNote, Diagnosis, QueueToken, Vitals
from tests.clinical_support import DAY, room


def test_opening_the_called_token_starts_it_and_is_idempotent(session, clinic_a):
    r = room(session, clinic_a)
    assert session.get(QueueToken, r.token_id).status == "in_consultation"
    assert open_consultation(session, r.dr, token_id=r.token_id).id == r.consultation.id
    assert r.consultation.status == "open" and r.consultation.patient_id == r.patient_id


def test_reception_cannot_open_a_consultation(session, clinic_a):
    r = room(session, clinic_a)
    with pytest.raises(PermissionDenied):
        open_consultation(session, clinic_a.receptionist, token_id=r.token_id)


def test_vitals_are_range_checked_and_bmi_computed(session, clinic_a):
    r = room(session, clinic_a)
    row = records.record_vitals(
        session,
        r.dr,
        consultation_id=r.consultation.id,
        vitals=VitalsInput(
            temperature_c=37.2, bp_systolic=130, bp_diastolic=85, weight_kg=72, height_cm=170
        ),
    )
    assert row.bmi == 24.9
    bad = [
        (VitalsInput(temperature_c=99.5), "°F", "temperature_c"),
        (VitalsInput(bp_systolic=120), "both", "bp_diastolic"),
        (VitalsInput(bp_systolic=80, bp_diastolic=120), "above", "bp_systolic"),
        (VitalsInput(spo2_pct=104), "50–100", "spo2_pct"),
        (VitalsInput(pulse_bpm=72.5), "whole", "pulse_bpm"),  # type: ignore[arg-type]
        (VitalsInput(), "at least one", "vitals"),
    ]
    for vitals, words, field in bad:
        with pytest.raises(ValidationFailed, match=words) as err:
            records.record_vitals(session, r.dr, consultation_id=r.consultation.id, vitals=vitals)
        assert err.value.field == field


def test_notes_are_versions_and_amending_a_final_record_needs_a_reason(session, clinic_a):
    r = room(session, clinic_a)
    cid = r.consultation.id
    first = records.record_notes(
        session, r.dr, consultation_id=cid, chief_complaint="Knee pain for 2 weeks"
    )
    second = records.record_notes(
        session,
        r.dr,
        consultation_id=cid,
        examination="Crepitus, right knee",
        follow_up_date=DAY + dt.timedelta(days=7),
    )
    assert second.supersedes_id == first.id
    assert second.chief_complaint == "Knee pain for 2 weeks"  # carried forward
    with pytest.raises(ValidationFailed, match="after the visit"):
        records.record_notes(session, r.dr, consultation_id=cid, follow_up_date=DAY)
    r.consultation.status = "final"
    session.flush()
    with pytest.raises(ValidationFailed, match="say why"):
        records.record_notes(session, r.dr, consultation_id=cid, chief_complaint="Left knee")
    third = records.record_notes(
        session, r.dr, consultation_id=cid, chief_complaint="Left knee", reason="Wrong side"
    )
    assert (third.correction_reason, third.recorded_by) == ("Wrong side", r.dr.user_id)
    record = consultation_record(session, r.dr, consultation_id=cid)
    assert record.notes is not None and record.notes.id == third.id
    assert [v.part for v in record.history].count("notes") == 3


def test_diagnoses_by_icd10_code_amended_and_retracted_keep_history(session, clinic_a):
    r = room(session, clinic_a)
    cid = r.consultation.id
    assert "M17" in [c.code for c in search_icd10("osteoarthritis knee")]
    assert search_icd10("m17.1")[0].code == "M17.1"
    assert icd10_title("m171") == "Unilateral primary osteoarthritis of knee"
    oa = records.add_diagnosis(
        session, r.dr, consultation_id=cid, icd10_code="M17", description="Osteoarthritis"
    )
    with pytest.raises(ValidationFailed, match="already has a primary"):
        records.add_diagnosis(session, r.dr, consultation_id=cid, description="Obesity")
    with pytest.raises(ValidationFailed, match="not an ICD-10-CM code"):
        records.add_diagnosis(session, r.dr, consultation_id=cid, icd10_code="Z99.999")
    vit_d = records.add_diagnosis(
        session, r.dr, consultation_id=cid, icd10_code="E55.9", primary=False
    )
    assert vit_d.description == "Vitamin D deficiency, unspecified"
    amended = records.amend_diagnosis(session, r.dr, diagnosis_id=oa.id, icd10_code="M17.11")
    with pytest.raises(Conflict):
        records.amend_diagnosis(session, r.dr, diagnosis_id=oa.id, description="x")
    with pytest.raises(ValidationFailed, match="say why"):
        records.retract_diagnosis(session, r.dr, diagnosis_id=vit_d.id, reason=" ")
    records.retract_diagnosis(session, r.dr, diagnosis_id=vit_d.id, reason="No lab evidence")
    record = consultation_record(session, r.dr, consultation_id=cid)
    assert [(d.icd10_code, d.primary) for d in record.diagnoses] == [("M17.11", True)]
    assert record.diagnoses[0].id == amended.id
    total = session.scalar(select(func.count()).where(Diagnosis.consultation_id == cid))
    assert total == 4  # nothing deleted


def test_reception_and_lab_cannot_read_or_write_and_nothing_is_written(session, clinic_a):
    r = room(session, clinic_a)
    cid = r.consultation.id
    before = _counts(session)
    for who in (clinic_a.receptionist, clinic_a.lab, clinic_a.admin):
        with pytest.raises(PermissionDenied):
            consultation_record(session, who, consultation_id=cid)
        with pytest.raises(PermissionDenied):
            records.record_notes(session, who, consultation_id=cid, chief_complaint="x")
        with pytest.raises(PermissionDenied):
            records.add_diagnosis(session, who, consultation_id=cid, description="x")
    assert _counts(session) == before


def test_another_clinics_doctor_gets_not_found(session, clinic_a, clinic_b):
    r = room(session, clinic_a)
    other = room(session, clinic_b, name="Dr. Other")
    before = _counts(session)
    with pytest.raises(NotFound):
        consultation_record(session, other.dr, consultation_id=r.consultation.id)
    with pytest.raises(NotFound):
        records.record_notes(
            session, other.dr, consultation_id=r.consultation.id, chief_complaint="x"
        )
    assert _counts(session) == before


def test_every_read_of_a_record_is_audited(session, clinic_a):
    r = room(session, clinic_a)
    reads = select(func.count()).where(
        AuditEntry.action == "clinical.read", AuditEntry.tenant_id == clinic_a.tenant_id
    )
    before = session.scalar(reads)
    consultation_record(session, r.dr, consultation_id=r.consultation.id)
    consultation_record(session, r.dr, consultation_id=r.consultation.id)
    assert session.scalar(reads) == before + 2


def _counts(session):
    return {
        m.__tablename__: session.scalar(select(func.count()).select_from(m))
        for m in (ConsultationNote, Vitals, Diagnosis, AuditEntry)
    }
