"""The patient at a glance for the doctor: allergies first, then conditions, medicines, visits.

Built for the moment a patient walks in (target < 150 ms with 40 past visits): a fixed number
of set-based queries whatever the history's length, never one per visit. Audited.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit
from core.auth.permissions import require
from core.clinical.prescriptions import PrescriptionView, view_of
from core.context import Actor, tenant_of
from core.patients.views import load_patient
from db.models import (
    Consultation,
    ConsultationNote,
    Diagnosis,
    Doctor,
    LabOrder,
    LabResult,
    PatientAllergy,
    PatientCondition,
    PatientMedication,
    Prescription,
    PrescriptionItem,
)

FactT = TypeVar("FactT", PatientAllergy, PatientCondition, PatientMedication)
VisitT = TypeVar("VisitT", ConsultationNote, Diagnosis, Prescription)
NewestT = TypeVar("NewestT", ConsultationNote, Prescription)


@dataclass(frozen=True)
class Allergy:
    substance: str
    reaction: str | None
    severity: str


@dataclass(frozen=True)
class Condition:
    name: str
    icd10_code: str | None
    since: dt.date | None


@dataclass(frozen=True)
class Medication:
    name: str
    dosage: str | None


@dataclass(frozen=True)
class LabLine:
    test: str
    status: str
    value: str | None
    unit: str | None
    abnormal: str | None


@dataclass(frozen=True)
class Visit:
    """One past or current consultation on the timeline, newest first."""

    consultation_id: int
    started_at: dt.datetime
    status: str
    doctor: str
    complaint: str | None
    diagnoses: tuple[str, ...]
    follow_up_date: dt.date | None
    prescription: PrescriptionView | None
    labs: tuple[LabLine, ...]


@dataclass(frozen=True)
class PatientGlance:
    patient_id: int
    name: str
    code: str
    allergies: tuple[Allergy, ...]
    conditions: tuple[Condition, ...]
    medications: tuple[Medication, ...]
    visits: tuple[Visit, ...]

    @property
    def prescriptions(self) -> tuple[PrescriptionView, ...]:
        """Previous prescriptions, newest first (one click from re-prescribing)."""
        return tuple(v.prescription for v in self.visits if v.prescription is not None)


def patient_at_a_glance(
    session: Session, actor: Actor, patient_id: int, *, visits: int = 50
) -> PatientGlance:
    """Return the doctor's summary of a patient (``visits`` newest consultations); audited."""
    require(actor, "clinical.read")
    tenant_id = tenant_of(session, actor)
    patient = load_patient(session, tenant_id, patient_id)
    audit.record(session, actor, "clinical.glance", entity="patient", entity_id=patient.id)
    return PatientGlance(
        patient_id=patient.id,
        name=patient.full_name,
        code=patient.code,
        allergies=tuple(
            Allergy(a.substance, a.reaction, a.severity)
            for a in _facts(session, PatientAllergy, tenant_id, patient.id)
        ),
        conditions=tuple(
            Condition(c.name, c.icd10_code, c.since)
            for c in _facts(session, PatientCondition, tenant_id, patient.id)
        ),
        medications=tuple(
            Medication(m.name, m.dosage)
            for m in _facts(session, PatientMedication, tenant_id, patient.id)
        ),
        visits=_timeline(session, tenant_id, patient.id, visits),
    )


def _facts(session: Session, model: type[FactT], tenant_id: int, patient_id: int) -> list[FactT]:
    return list(
        session.scalars(
            select(model)
            .where(model.tenant_id == tenant_id, model.patient_id == patient_id)
            .where(model.retracted_at.is_(None))
            .order_by(model.id)
        )
    )


def _timeline(session: Session, tenant_id: int, patient_id: int, limit: int) -> tuple[Visit, ...]:
    rows = session.execute(
        select(Consultation, Doctor.full_name)
        .join(Doctor, (Doctor.tenant_id == tenant_id) & (Doctor.id == Consultation.doctor_id))
        .where(Consultation.tenant_id == tenant_id, Consultation.patient_id == patient_id)
        .order_by(Consultation.started_at.desc(), Consultation.id.desc())
        .limit(limit)
    ).all()
    ids = [c.id for c, _ in rows]
    if not ids:
        return ()
    notes = _newest(_by_visit(session, ConsultationNote, tenant_id, ids))
    diagnoses = _live_diagnoses(_by_visit(session, Diagnosis, tenant_id, ids))
    scripts = _prescriptions(session, tenant_id, ids)
    labs = _labs(session, tenant_id, ids)
    return tuple(
        Visit(
            consultation_id=c.id,
            started_at=c.started_at,
            status=c.status,
            doctor=doctor,
            complaint=notes[c.id].chief_complaint if c.id in notes else None,
            diagnoses=tuple(diagnoses.get(c.id, ())),
            follow_up_date=notes[c.id].follow_up_date if c.id in notes else None,
            prescription=scripts.get(c.id),
            labs=tuple(labs.get(c.id, ())),
        )
        for c, doctor in rows
    )


def _by_visit(
    session: Session, model: type[VisitT], tenant_id: int, ids: list[int]
) -> list[VisitT]:
    return list(
        session.scalars(
            select(model)
            .where(model.tenant_id == tenant_id, model.consultation_id.in_(ids))
            .order_by(model.id)
        )
    )


def _newest(rows: Iterable[NewestT]) -> dict[int, NewestT]:
    return {row.consultation_id: row for row in rows}  # rows come oldest first


def _live_diagnoses(rows: list[Diagnosis]) -> dict[int, list[str]]:
    replaced = {r.supersedes_id for r in rows if r.supersedes_id}
    out: dict[int, list[str]] = defaultdict(list)
    for r in sorted(rows, key=lambda r: (not r.is_primary, r.id)):
        if r.id not in replaced and not r.retracted:
            out[r.consultation_id].append(
                f"{r.description} ({r.icd10_code})" if r.icd10_code else r.description
            )
    return out


def _prescriptions(session: Session, tenant_id: int, ids: list[int]) -> dict[int, PrescriptionView]:
    newest = _newest(_by_visit(session, Prescription, tenant_id, ids))
    items: dict[int, list[PrescriptionItem]] = defaultdict(list)
    wanted = [p.id for p in newest.values()]
    for item in session.scalars(
        select(PrescriptionItem)
        .where(PrescriptionItem.tenant_id == tenant_id)
        .where(PrescriptionItem.prescription_id.in_(wanted))
        .order_by(PrescriptionItem.position)
    ):
        items[item.prescription_id].append(item)
    return {cid: view_of(p, items[p.id]) for cid, p in newest.items()}


def _labs(session: Session, tenant_id: int, ids: list[int]) -> dict[int, list[LabLine]]:
    orders = session.scalars(
        select(LabOrder)
        .where(LabOrder.tenant_id == tenant_id, LabOrder.consultation_id.in_(ids))
        .order_by(LabOrder.id)
    ).all()
    if not orders:
        return {}
    results: dict[int, LabResult] = {}
    for result in session.scalars(
        select(LabResult)
        .where(LabResult.tenant_id == tenant_id)
        .where(LabResult.lab_order_id.in_([o.id for o in orders]))
        .order_by(LabResult.id)
    ):
        results[result.lab_order_id] = result  # the newest version wins
    out: dict[int, list[LabLine]] = defaultdict(list)
    for order in orders:
        r = results.get(order.id)
        value = (
            None
            if r is None
            else (r.value_text or (f"{r.value_num:g}" if r.value_num is not None else None))
        )
        out[order.consultation_id].append(
            LabLine(
                order.test_name,
                order.status,
                value,
                r.unit if r else None,
                r.abnormal if r else None,
            )
        )
    return out
