"""Admin commands behind the clinic builder: queue settings, allocation strategy, weights."""

from __future__ import annotations

import math

import pytest
from sqlalchemy import select

from core import tenancy
from core.errors import NotFound, PermissionDenied, ValidationFailed
from core.queue.scoring import rules_from
from core.scheduling.doctors import set_performance_weight
from db.models import AuditEntry
from tests.support import add_doctor


def test_admin_sets_clinic_queue_settings_and_keeps_other_settings(session, clinic_a):
    clinic_a.tenant.settings = {"brand_colour": "teal", "cap_every": 5}
    session.flush()
    tenancy.set_queue_settings(
        session, clinic_a.admin, settings={"eta_shift_minutes": 5, "priority_weights": {"vip": 40}}
    )
    assert clinic_a.tenant.settings == {
        "brand_colour": "teal",
        "eta_shift_minutes": 5,
        "priority_weights": {"vip": 40},
    }
    rules = rules_from(clinic_a.tenant.settings)
    assert (rules.eta_shift_minutes, rules.weights["vip"], rules.cap_every) == (5, 40, 3)


def test_admin_sets_department_overrides(session, clinic_a):
    dept = clinic_a.department
    tenancy.set_queue_settings(
        session, clinic_a.admin, settings={"cap_every": 2}, department_id=dept.id
    )
    assert dept.queue_settings == {"cap_every": 2}
    entry = session.scalars(
        select(AuditEntry).where(
            AuditEntry.tenant_id == clinic_a.tenant_id, AuditEntry.action == "queue_settings.set"
        )
    ).one()
    assert (entry.entity, entry.entity_id, entry.detail) == (
        "department",
        str(dept.id),
        {"keys": ["cap_every"]},
    )


@pytest.mark.parametrize(
    "settings",
    [
        {"cap_evry": 2},
        {"cap_every": 0},
        {"cap_every": 2.5},
        {"cap_every": True},
        {"wait_penalty_per_minute": math.nan},
        {"eta_shift_minutes": "15"},
        {"priority_weights": {"emergency": 1}},
        {"priority_weights": {"vip": "high"}},
        {"priority_weights": ["vip"]},
    ],
)
def test_bad_queue_settings_are_rejected_and_nothing_changes(session, clinic_a, settings):
    dept = clinic_a.department
    for department_id in (None, dept.id):
        with pytest.raises(ValidationFailed):
            tenancy.set_queue_settings(
                session, clinic_a.admin, settings=settings, department_id=department_id
            )
    assert clinic_a.tenant.settings == {}
    assert dept.queue_settings == {}


def test_receptionist_may_not_change_queue_settings_or_strategy(session, clinic_a):
    desk, dept = clinic_a.receptionist, clinic_a.department
    with pytest.raises(PermissionDenied):
        tenancy.set_queue_settings(session, desk, settings={"cap_every": 2})
    with pytest.raises(PermissionDenied):
        tenancy.set_allocation_strategy(session, desk, department_id=dept.id, strategy="pool")
    assert (clinic_a.tenant.settings, dept.allocation_strategy) == ({}, "shortest_wait")


def test_another_clinics_admin_gets_not_found(session, clinic_a, clinic_b):
    dept = clinic_a.department
    doctor = add_doctor(session, clinic_a)
    with pytest.raises(NotFound):
        tenancy.set_queue_settings(
            session, clinic_b.admin, settings={"cap_every": 2}, department_id=dept.id
        )
    with pytest.raises(NotFound):
        tenancy.set_allocation_strategy(
            session, clinic_b.admin, department_id=dept.id, strategy="pool"
        )
    with pytest.raises(NotFound):
        set_performance_weight(session, clinic_b.admin, doctor_id=doctor.id, weight=2.0)
    assert (dept.queue_settings, dept.allocation_strategy) == ({}, "shortest_wait")
    assert doctor.performance_weight == 1.0


def test_admin_chooses_a_known_allocation_strategy(session, clinic_a):
    dept = clinic_a.department
    tenancy.set_allocation_strategy(
        session, clinic_a.admin, department_id=dept.id, strategy="round_robin"
    )
    assert dept.allocation_strategy == "round_robin"
    with pytest.raises(ValidationFailed):
        tenancy.set_allocation_strategy(
            session, clinic_a.admin, department_id=dept.id, strategy="fastest"
        )
    with pytest.raises(ValidationFailed):
        tenancy.create_department(
            session,
            clinic_a.admin,
            branch_id=clinic_a.branch.id,
            code="ORT",
            name="Orthopaedics",
            allocation_strategy="fastest",
        )
    assert dept.allocation_strategy == "round_robin"


def test_admin_sets_a_doctors_performance_weight(session, clinic_a):
    doctor = add_doctor(session, clinic_a)
    set_performance_weight(session, clinic_a.admin, doctor_id=doctor.id, weight=1.5)
    assert doctor.performance_weight == 1.5
    audited = select(AuditEntry.detail).where(
        AuditEntry.action == "doctor.update", AuditEntry.entity_id == str(doctor.id)
    )
    assert session.scalars(audited).one() == {"fields": ["performance_weight"]}


@pytest.mark.parametrize("weight", [0, -1, 0.05, 10.5, math.inf, math.nan, True, "2"])
def test_bad_performance_weight_is_rejected_and_nothing_changes(session, clinic_a, weight):
    doctor = add_doctor(session, clinic_a)
    with pytest.raises(ValidationFailed):
        set_performance_weight(session, clinic_a.admin, doctor_id=doctor.id, weight=weight)
    assert doctor.performance_weight == 1.0


def test_receptionist_may_not_set_a_performance_weight(session, clinic_a):
    doctor = add_doctor(session, clinic_a)
    with pytest.raises(PermissionDenied):
        set_performance_weight(session, clinic_a.receptionist, doctor_id=doctor.id, weight=2.0)
    assert doctor.performance_weight == 1.0
