"""A clinic's catalogue of lab tests: name, unit, reference ranges, price, result kind."""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core import audit
from core.auth.permissions import require
from core.context import Actor, load_owned, tenant_of
from core.errors import Conflict, NotFound, ValidationFailed
from db.models import LabTest

RESULT_KINDS = ("numeric", "text")


@dataclass(frozen=True)
class LabTestSpec:
    """A catalogue entry; ``*_female`` override the range for female patients when set."""

    code: str
    name: str
    unit: str | None = None
    ref_low: float | None = None
    ref_high: float | None = None
    ref_low_female: float | None = None
    ref_high_female: float | None = None
    result_kind: str = "numeric"
    price_minor: int = 0


@dataclass(frozen=True)
class CatalogueTest:
    """A test as the doctor's order form and the lab's entry form show it."""

    id: int
    code: str
    name: str
    unit: str | None
    ref_low: float | None
    ref_high: float | None
    result_kind: str


def add_lab_test(session: Session, actor: Actor, *, spec: LabTestSpec) -> LabTest:
    """Add a test to the clinic's catalogue (admin); ``Conflict`` when the code exists."""
    require(actor, "settings.write")
    tenant_id = tenant_of(session, actor)
    _validate(spec)
    row = LabTest(
        tenant_id=tenant_id,
        code=spec.code.strip().upper(),
        name=spec.name.strip(),
        unit=(spec.unit or "").strip() or None,
        ref_low=spec.ref_low,
        ref_high=spec.ref_high,
        ref_low_female=spec.ref_low_female,
        ref_high_female=spec.ref_high_female,
        result_kind=spec.result_kind,
        price_minor=spec.price_minor,
        active=True,
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError as exc:
        raise Conflict(f"A lab test with code {row.code} already exists") from exc
    audit.record(session, actor, "lab.test_added", entity="lab_test", entity_id=row.id)
    return row


def lab_catalogue(session: Session, actor: Actor) -> list[CatalogueTest]:
    """The clinic's active tests by name (for the order form)."""
    require(actor, "lab.read")
    tenant_id = tenant_of(session, actor)
    rows = session.execute(
        select(LabTest)
        .where(LabTest.tenant_id == tenant_id, LabTest.active.is_(True))
        .order_by(LabTest.name)
    ).scalars()
    return [
        CatalogueTest(t.id, t.code, t.name, t.unit, t.ref_low, t.ref_high, t.result_kind)
        for t in rows
    ]


def access_lab_test(session: Session, actor: Actor, lab_test_id: int) -> LabTest:
    """Fetch an active test of the actor's clinic, or raise ``NotFound``."""
    test = load_owned(session, actor, LabTest, lab_test_id, "Lab test")
    if not test.active:
        raise NotFound("Lab test not found")
    return test


def reference_range(test: LabTest, gender: str | None) -> tuple[float | None, float | None]:
    """The range that applies to a patient: the women's range for a female patient if set."""
    if gender == "female" and (test.ref_low_female is not None or test.ref_high_female is not None):
        return test.ref_low_female, test.ref_high_female
    return test.ref_low, test.ref_high


def _validate(spec: LabTestSpec) -> None:
    if not spec.code.strip() or len(spec.code.strip()) > 20:
        raise ValidationFailed("A test code is 1 to 20 characters", field="code")
    if not spec.name.strip() or len(spec.name) > 200:
        raise ValidationFailed("A test name is 1 to 200 characters", field="name")
    if spec.result_kind not in RESULT_KINDS:
        raise ValidationFailed(f"Result kind is one of {RESULT_KINDS}", field="result_kind")
    if spec.unit is not None and len(spec.unit) > 20:
        raise ValidationFailed("A unit is at most 20 characters", field="unit")
    if spec.price_minor < 0:
        raise ValidationFailed("A price cannot be negative", field="price_minor")
    for low, high in ((spec.ref_low, spec.ref_high), (spec.ref_low_female, spec.ref_high_female)):
        for bound in (low, high):
            if bound is not None and not math.isfinite(bound):
                raise ValidationFailed("A reference bound is a finite number", field="ref_low")
        if low is not None and high is not None and low > high:
            raise ValidationFailed("The low reference bound exceeds the high one", field="ref_low")
