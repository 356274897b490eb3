"""Lab orders and results: a doctor orders tests, a lab technician enters the results.

A doctor orders several tests in an open consultation (``core.clinical.consultations``); the
token goes to the lab (``send_to_lab``, same token) unless the tests are for later. A
technician enters each result: the value is checked against the test's unit and kind, flagged
``low``/``high`` against the patient's reference range, and the turnaround (result time minus
order time) is stored on the order. When the last open order of the consultation is resulted,
a patient still at the lab is re-queued as ``lab_return`` and a ``LabResultsReady`` queue
event tells the doctor's page. Only lab technicians enter results; reading results needs
``lab.read`` (doctors and the lab, never the front desk).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.orm import Session

from core import audit
from core.auth.permissions import require
from core.clinical.consultations import access_consultation
from core.clinical.lab_catalogue import access_lab_test, reference_range
from core.context import Actor, load_owned
from core.errors import Conflict, NotFound, ValidationFailed
from core.queue.events import append_event
from core.queue.lifecycle import access_token, return_from_lab, send_to_lab
from db.models import Consultation, LabOrder, LabResult, LabTest, Patient, QueueToken

MAX_TESTS = 20
PENDING = "ordered"
RESULTED = "resulted"
RESULTS_READY = "LabResultsReady"


@dataclass(frozen=True)
class OrderedTests:
    """The orders written for one consultation and where the token went."""

    consultation_id: int
    order_ids: tuple[int, ...]
    token_status: str | None  # at_lab when the patient was sent


@dataclass(frozen=True)
class EnteredResult:
    """A result as stored: flag, turnaround, and whether the patient went back to the doctor."""

    order_id: int
    result_id: int
    abnormal: str | None
    turnaround_seconds: int
    all_resulted: bool
    returned_to_doctor: bool


def order_tests(
    session: Session,
    actor: Actor,
    *,
    consultation_id: int,
    lab_test_ids: Sequence[int],
    urgent: bool = False,
    send_patient: bool = True,
) -> OrderedTests:
    """Order tests in an open consultation; send its token to the lab (``send_patient``).

    Raises ``ValidationFailed`` for no, too many or repeated tests, ``NotFound`` for a
    consultation or test of another clinic, and ``Conflict`` for a token not in consultation;
    nothing is written then.
    """
    require(actor, "lab.order")
    ids = list(lab_test_ids)
    if not ids or len(ids) > MAX_TESTS:
        raise ValidationFailed(f"Order 1 to {MAX_TESTS} tests", field="lab_test_ids")
    if len(set(ids)) != len(ids):
        raise ValidationFailed("A test is listed twice", field="lab_test_ids")
    consultation = access_consultation(session, actor, consultation_id)
    tests = [access_lab_test(session, actor, i) for i in ids]
    token = _token_to_send(session, actor, consultation) if send_patient else None
    _refuse_open_repeats(session, consultation, ids)
    now: dt.datetime = actor.clock()
    orders = [
        LabOrder(
            tenant_id=consultation.tenant_id,
            consultation_id=consultation.id,
            patient_id=consultation.patient_id,
            doctor_id=consultation.doctor_id,
            lab_test_id=test.id,
            test_name=test.name,
            status=PENDING,
            urgent=urgent,
            ordered_by=actor.user_id,
            created_at=now,
        )
        for test in tests
    ]
    session.add_all(orders)
    session.flush()
    order_ids = tuple(o.id for o in orders)
    audit.record(
        session,
        actor,
        "lab.order",
        entity="consultation",
        entity_id=consultation.id,
        detail={"orders": list(order_ids)},
    )
    status = None
    if token is not None:
        status = send_to_lab(session, actor, token_id=token.id).status
    return OrderedTests(consultation.id, order_ids, status)


def enter_result(
    session: Session,
    actor: Actor,
    *,
    order_id: int,
    value: str,
    unit: str | None = None,
) -> EnteredResult:
    """Record the result of an open order (lab technicians only); flag it against the range.

    A numeric test takes a number in the test's unit (``unit`` may be left out or must match);
    a text test takes the report text. ``Conflict`` when the order already has a result.
    """
    require(actor, "lab.result")
    order = load_owned(session, actor, LabOrder, order_id, "Lab order")
    test = session.get(LabTest, order.lab_test_id) if order.lab_test_id is not None else None
    if test is None:
        raise NotFound("Lab test not found")
    patient = session.get(Patient, order.patient_id)
    gender = patient.gender if patient is not None else None
    low, high = reference_range(test, gender)
    number, text = _parse_value(test, value, unit)
    abnormal = _flag(number, low, high)
    now: dt.datetime = actor.clock()
    turnaround = max(0, int((now - order.created_at).total_seconds()))
    _mark_resulted(session, order, now, turnaround)
    result = LabResult(
        tenant_id=order.tenant_id,
        patient_id=order.patient_id,
        lab_order_id=order.id,
        recorded_by=actor.user_id,
        value_num=number,
        value_text=text,
        unit=test.unit,
        ref_low=low,
        ref_high=high,
        abnormal=abnormal,
        created_at=now,
    )
    session.add(result)
    session.flush()
    detail = {"order": order.id, "abnormal": abnormal}
    audit.record(
        session, actor, "lab.result", entity="lab_result", entity_id=result.id, detail=detail
    )
    all_done, returned = _after_result(session, actor, order.consultation_id, now)
    return EnteredResult(order.id, result.id, abnormal, turnaround, all_done, returned)


def _token_to_send(session: Session, actor: Actor, consultation: Consultation) -> QueueToken:
    token = access_token(session, actor, consultation.token_id) if consultation.token_id else None
    if token is None or token.status != "in_consultation":
        status = token.status if token is not None else None
        raise Conflict("The patient is not in consultation; order without sending", status=status)
    return token


def _refuse_open_repeats(session: Session, consultation: Consultation, ids: list[int]) -> None:
    open_ids = session.execute(
        select(LabOrder.lab_test_id).where(
            LabOrder.tenant_id == consultation.tenant_id,
            LabOrder.consultation_id == consultation.id,
            LabOrder.status == PENDING,
            LabOrder.lab_test_id.in_(ids),
        )
    ).scalars()
    if any(True for _ in open_ids):
        raise ValidationFailed(
            "A test is already ordered and awaiting its result", field="lab_test_ids"
        )


def _parse_value(test: LabTest, value: str, unit: str | None) -> tuple[float | None, str | None]:
    raw = (value or "").strip()
    if not raw or len(raw) > 300:
        raise ValidationFailed("Enter a result of 1 to 300 characters", field="value")
    if test.result_kind == "text":
        return None, raw
    if (
        unit is not None
        and unit.strip()
        and unit.strip().casefold() != (test.unit or "").casefold()
    ):
        raise ValidationFailed(
            f"{test.name} is reported in {test.unit or 'no unit'}, not {unit.strip()}", field="unit"
        )
    try:
        number = float(raw.replace(",", ""))
    except ValueError:
        raise ValidationFailed(f"{test.name} needs a number", field="value") from None
    if not math.isfinite(number) or number < 0:
        raise ValidationFailed(f"{test.name} needs a number of zero or more", field="value")
    return number, None


def _flag(number: float | None, low: float | None, high: float | None) -> str | None:
    if number is None:
        return None
    if low is not None and number < low:
        return "low"
    if high is not None and number > high:
        return "high"
    return None


def _mark_resulted(session: Session, order: LabOrder, now: dt.datetime, turnaround: int) -> None:
    """Compare-and-set ordered → resulted, so two technicians cannot both enter a result."""
    stmt = (
        update(LabOrder)
        .where(
            LabOrder.tenant_id == order.tenant_id,
            LabOrder.id == order.id,
            LabOrder.status == PENDING,
        )
        .values(status=RESULTED, resulted_at=now, turnaround_seconds=turnaround)
        .execution_options(synchronize_session=False)
    )
    if cast(CursorResult[object], session.execute(stmt)).rowcount != 1:
        raise Conflict(f"{order.test_name} already has a result", status=order.status)
    session.expire(order)


def _after_result(
    session: Session, actor: Actor, consultation_id: int, now: dt.datetime
) -> tuple[bool, bool]:
    """When no order of the consultation is open, re-queue a patient at the lab; tell the doctor."""
    consultation = session.get(Consultation, consultation_id)
    assert consultation is not None
    still_open = session.execute(
        select(func.count())
        .select_from(LabOrder)
        .where(
            LabOrder.tenant_id == consultation.tenant_id,
            LabOrder.consultation_id == consultation.id,
            LabOrder.status == PENDING,
        )
    ).scalar_one()
    if still_open or consultation.token_id is None:
        return still_open == 0, False
    token = session.get(QueueToken, consultation.token_id)
    assert token is not None
    returned = token.status == "at_lab"
    if returned:
        # The technician may not manage the queue; this one step is done for them, and the
        # event still names them.
        lab_desk = dataclasses.replace(actor, role="system")
        return_from_lab(session, lab_desk, token_id=token.id)
    _tell_doctor(session, actor, consultation, token, now)
    return True, returned


def _tell_doctor(
    session: Session, actor: Actor, consultation: Consultation, token: QueueToken, now: dt.datetime
) -> None:
    abnormal = session.execute(
        select(func.count())
        .select_from(LabResult)
        .join(
            LabOrder,
            (LabOrder.tenant_id == LabResult.tenant_id) & (LabOrder.id == LabResult.lab_order_id),
        )
        .where(
            LabOrder.tenant_id == consultation.tenant_id,
            LabOrder.consultation_id == consultation.id,
            LabResult.abnormal.is_not(None),
        )
    ).scalar_one()
    append_event(
        session,
        tenant_id=token.tenant_id,
        branch_id=token.branch_id,
        department_id=token.department_id,
        doctor_id=consultation.doctor_id,
        token_id=token.id,
        type=RESULTS_READY,
        actor_id=actor.user_id,
        payload={"consultation_id": consultation.id, "abnormal": int(abnormal)},
        at=now,
    )
