"""Read models of the lab: the technician's worklist and the results a doctor reads.

The worklist holds the branch's open orders placed today (on the branch's wall clock), oldest
first, with what the entry form needs: the patient's range for the test, its unit and kind.
Results carry clinical content, so every read needs ``lab.read`` (doctors and the lab, never
the front desk) and is audited.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.orm import Session

from core import audit
from core.auth.permissions import require
from core.clinical.lab import PENDING
from core.clinical.lab_catalogue import reference_range
from core.context import Actor, load_owned, tenant_of
from core.errors import ValidationFailed
from core.patients.views import current_age, load_patient
from db.models import (
    Branch,
    Consultation,
    Doctor,
    LabOrder,
    LabResult,
    LabTest,
    Patient,
    QueueToken,
    Tenant,
)


@dataclass(frozen=True)
class WorklistItem:
    """One open order on the lab's worklist."""

    order_id: int
    test_name: str
    unit: str | None
    ref_low: float | None
    ref_high: float | None
    result_kind: str
    urgent: bool
    ordered_at: dt.datetime
    patient_id: int
    patient_code: str
    patient_name: str
    age: int | None
    gender: str | None
    doctor_name: str
    token_code: str | None


@dataclass(frozen=True)
class ResultLine:
    """A result as a doctor reads it."""

    order_id: int
    test_name: str
    ordered_at: dt.datetime
    status: str
    value: str | None
    unit: str | None
    ref_low: float | None
    ref_high: float | None
    abnormal: str | None
    resulted_at: dt.datetime | None
    turnaround_seconds: int | None


@dataclass(frozen=True)
class DoneItem:
    """A result entered today, with whose it is."""

    line: ResultLine
    patient_name: str
    patient_code: str


def lab_worklist(session: Session, actor: Actor, *, branch_id: int) -> list[WorklistItem]:
    """Today's open orders of the branch, oldest first."""
    require(actor, "lab.read")
    tenant_id = tenant_of(session, actor)
    branch, day, since = _today(session, actor, tenant_id, branch_id)
    rows = session.execute(
        select(LabOrder, LabTest, Patient, Doctor.full_name, QueueToken.code)
        .join(Consultation, _same(Consultation, LabOrder.consultation_id))
        .join(LabTest, _same(LabTest, LabOrder.lab_test_id))
        .join(Patient, _same(Patient, LabOrder.patient_id))
        .join(Doctor, _same(Doctor, LabOrder.doctor_id))
        .outerjoin(QueueToken, _same(QueueToken, Consultation.token_id))
        .where(
            LabOrder.tenant_id == tenant_id,
            LabOrder.status == PENDING,
            LabOrder.created_at >= since,
            Consultation.branch_id == branch.id,
        )
        .order_by(LabOrder.created_at, LabOrder.id)
    ).all()
    return [_item(o, t, p, doctor, code, day) for o, t, p, doctor, code in rows]


def resulted_today(session: Session, actor: Actor, *, branch_id: int) -> list[DoneItem]:
    """Results the branch's lab entered today, newest first (audited: values are clinical)."""
    require(actor, "lab.read")
    tenant_id = tenant_of(session, actor)
    branch, _, since = _today(session, actor, tenant_id, branch_id)
    rows = session.execute(
        select(LabOrder, LabResult, Patient.full_name, Patient.code)
        .join(Consultation, _same(Consultation, LabOrder.consultation_id))
        .join(LabResult, _same_order(LabResult))
        .join(Patient, _same(Patient, LabOrder.patient_id))
        .where(
            LabOrder.tenant_id == tenant_id,
            LabOrder.resulted_at >= since,
            Consultation.branch_id == branch.id,
        )
        .order_by(LabOrder.resulted_at.desc(), LabOrder.id.desc(), LabResult.id.desc())
    ).all()
    audit.record(session, actor, "lab.read", entity="branch", entity_id=branch.id)
    seen: set[int] = set()
    out = []
    for order, result, name, code in rows:
        if order.id not in seen:  # the newest version of each result
            seen.add(order.id)
            out.append(DoneItem(_line(order, result), name, code))
    return out


def consultation_results(
    session: Session, actor: Actor, *, consultation_id: int
) -> list[ResultLine]:
    """The tests ordered in a consultation with their results (audited read)."""
    require(actor, "lab.read")
    consultation = load_owned(session, actor, Consultation, consultation_id, "Consultation")
    lines = _results(session, consultation.tenant_id, LabOrder.consultation_id == consultation.id)
    audit.record(session, actor, "lab.read", entity="consultation", entity_id=consultation.id)
    return lines


def patient_results(
    session: Session, actor: Actor, *, patient_id: int, limit: int = 50
) -> list[ResultLine]:
    """A patient's most recent lab orders and results, newest first (audited read)."""
    require(actor, "lab.read")
    if not 1 <= limit <= 500:
        raise ValidationFailed("Ask for 1 to 500 results", field="limit")
    patient = load_patient(session, tenant_of(session, actor), patient_id)
    lines = _results(session, patient.tenant_id, LabOrder.patient_id == patient.id, limit)
    audit.record(session, actor, "lab.read", entity="patient", entity_id=patient.id)
    return lines


def _today(
    session: Session, actor: Actor, tenant_id: int, branch_id: int
) -> tuple[Branch, dt.date, dt.datetime]:
    """The branch, its wall-clock today and the UTC instant today began."""
    branch = load_owned(session, actor, Branch, branch_id, "Branch")
    tenant = session.get(Tenant, tenant_id)
    zone = ZoneInfo(branch.timezone or (tenant.timezone if tenant else "UTC"))
    day = actor.clock().astimezone(zone).date()
    return branch, day, dt.datetime.combine(day, dt.time(), zone).astimezone(dt.UTC)


def _same_order(model: Any) -> ColumnElement[bool]:
    return and_(model.tenant_id == LabOrder.tenant_id, model.lab_order_id == LabOrder.id)


def _same(model: Any, column: Any) -> ColumnElement[bool]:
    """The join condition to ``model``'s row ``column`` names, within the order's clinic."""
    return and_(model.tenant_id == LabOrder.tenant_id, model.id == column)


def _results(
    session: Session, tenant_id: int, where: ColumnElement[bool], limit: int = 100
) -> list[ResultLine]:
    latest = (
        select(func.max(LabResult.id))
        .where(LabResult.tenant_id == tenant_id)
        .group_by(LabResult.lab_order_id)
        .scalar_subquery()
    )
    rows = session.execute(
        select(LabOrder, LabResult)
        .outerjoin(
            LabResult,
            (LabResult.tenant_id == LabOrder.tenant_id)
            & (LabResult.lab_order_id == LabOrder.id)
            & LabResult.id.in_(latest),
        )
        .where(LabOrder.tenant_id == tenant_id, where)
        .order_by(LabOrder.created_at.desc(), LabOrder.id)
        .limit(limit)
    ).all()
    return [_line(o, r) for o, r in rows]


def _line(order: LabOrder, result: LabResult | None) -> ResultLine:
    value = None
    if result is not None:
        value = result.value_text if result.value_num is None else f"{result.value_num:g}"
    return ResultLine(
        order.id,
        order.test_name,
        order.created_at,
        order.status,
        value,
        result.unit if result else None,
        result.ref_low if result else None,
        result.ref_high if result else None,
        result.abnormal if result else None,
        order.resulted_at,
        order.turnaround_seconds,
    )


def _item(
    order: LabOrder, test: LabTest, patient: Patient, doctor: str, code: str | None, day: dt.date
) -> WorklistItem:
    low, high = reference_range(test, patient.gender)
    return WorklistItem(
        order.id,
        order.test_name,
        test.unit,
        low,
        high,
        test.result_kind,
        order.urgent,
        order.created_at,
        patient.id,
        patient.code,
        patient.full_name,
        current_age(patient, day),
        patient.gender,
        doctor,
        code,
    )
