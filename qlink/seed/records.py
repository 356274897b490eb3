"""Clinical records of past consultations: notes, vitals, diagnoses and prescriptions."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from db.models import ConsultationNote, Diagnosis, Prescription, PrescriptionItem, Vitals
from qlink.seed.catalog import PROFILES, DeptProfile
from qlink.seed.patients import SeedPatient

Row = dict[str, Any]
_EXAMINATIONS = (
    "General condition fair, afebrile",
    "Conscious, oriented; no pallor",
    "Mild tenderness on palpation",
    "Chest clear; heart sounds normal",
    "Throat congested",
    "Local examination as noted",
)
_PLANS = (
    "Medicines as prescribed; plenty of fluids",
    "Review with reports",
    "Rest for three days; review if not better",
    "Diet and exercise advised",
    "Continue current medicines",
)


@dataclass(frozen=True)
class DoneVisit:
    """A finished consultation, with the ids its records hang from."""

    consultation_id: int
    patient_id: int
    patient: SeedPatient
    dept: str
    doctor_id: int
    doctor_name: str
    doctor_user_id: int | None
    appointment_id: int | None
    fee_minor: int
    follow_up: bool
    started_at: dt.datetime
    finished_at: dt.datetime


def insert_clinical(
    session: Session, tenant_id: int, rng: random.Random, done: list[DoneVisit]
) -> None:
    """Write notes for every consultation and vitals, diagnoses, prescriptions for most."""
    base = [
        {
            "tenant_id": tenant_id,
            "patient_id": d.patient_id,
            "recorded_by": d.doctor_user_id,
            "consultation_id": d.consultation_id,
            "created_at": d.finished_at,
        }
        for d in done
    ]
    notes, vitals, diagnoses, scripts = [], [], [], []
    for row, d in zip(base, done, strict=True):
        profile = PROFILES[d.dept]
        notes.append({**row, **_note(rng, profile, d)})
        if rng.random() < 0.6:
            vitals.append({**row, **_vitals(rng, d.patient)})
        if rng.random() < 0.75:
            diagnoses.append({**row, **_diagnosis(rng, profile)})
        if rng.random() < 0.7:
            scripts.append((row, d))
    for model, rows in ((ConsultationNote, notes), (Vitals, vitals), (Diagnosis, diagnoses)):
        if rows:
            session.execute(insert(model), rows)
    _insert_prescriptions(session, tenant_id, rng, scripts)


def _note(rng: random.Random, profile: DeptProfile, d: DoneVisit) -> Row:
    follow = d.finished_at.date() + dt.timedelta(days=rng.choice((7, 14, 30)))
    complaint = rng.choice(profile.complaints)
    return {
        "chief_complaint": f"Review: {complaint.lower()}" if d.follow_up else complaint,
        "examination": rng.choice(_EXAMINATIONS),
        "treatment_plan": rng.choice(_PLANS),
        "follow_up_date": follow if rng.random() < 0.3 else None,
    }


def _vitals(rng: random.Random, p: SeedPatient) -> Row:
    child = p.age < 16
    height = (
        rng.gauss(75 + p.age * 6, 8) if child else rng.gauss(168 if p.gender == "male" else 155, 7)
    )
    weight = (
        rng.gauss(8 + p.age * 2.6, 2) if child else rng.gauss(70 if p.gender == "male" else 60, 11)
    )
    systolic = int(rng.gauss(118 + max(0, p.age - 30) * 0.5, 12))
    return {
        "temperature_c": round(rng.choice((36.6, 36.8, 37.0, 37.4, 38.2, 38.8)), 1),
        "bp_systolic": None if child else systolic,
        "bp_diastolic": None if child else int(systolic * rng.uniform(0.6, 0.7)),
        "pulse_bpm": int(rng.gauss(100 if child else 80, 10)),
        "spo2_pct": rng.choice((96, 97, 98, 98, 99)),
        "weight_kg": round(max(weight, 3.0), 1),
        "height_cm": round(max(height, 50.0), 1),
        "bmi": round(max(weight, 3.0) / (max(height, 50.0) / 100) ** 2, 1),
    }


def _diagnosis(rng: random.Random, profile: DeptProfile) -> Row:
    options = profile.diagnoses
    code, text = rng.choices(options, [len(options) - i for i in range(len(options))])[0]
    return {"icd10_code": code, "description": text, "is_primary": True}


def _insert_prescriptions(
    session: Session, tenant_id: int, rng: random.Random, scripts: list[tuple[Row, DoneVisit]]
) -> None:
    if not scripts:
        return
    rows = [
        {
            **row,
            "doctor_id": d.doctor_id,
            "issued_at": d.finished_at,
            "advice": "Review if symptoms persist",
        }
        for row, d in scripts
    ]
    stmt = insert(Prescription).returning(Prescription.id, sort_by_parameter_order=True)
    ids = list(session.scalars(stmt, rows))
    items = []
    for pid, (_, d) in zip(ids, scripts, strict=True):
        medicines = PROFILES[d.dept].medicines
        for position, med in enumerate(rng.sample(medicines, rng.randint(1, 3)), 1):
            items.append(
                {
                    "tenant_id": tenant_id,
                    "prescription_id": pid,
                    "position": position,
                    "medicine": med.name,
                    "strength": med.strength,
                    "dosage_pattern": med.pattern,
                    "timing": med.timing,
                    "duration_days": med.days,
                    "instructions": None,
                }
            )
    session.execute(insert(PrescriptionItem), items)
