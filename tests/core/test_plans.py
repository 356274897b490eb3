"""Plans and usage: caps enforced at token issue (never for emergencies), suspension, GST bill,
message metering by category, the platform admin's view across clinics."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from core.clock import FrozenClock
from core.context import Actor
from core.errors import ClinicSuspended, NotFound, PermissionDenied, PlanLimitReached
from core.plans import catalogue, subscriptions, usage
from core.queue.issuing import issue_token
from core.scheduling.booking import book_appointment
from tests.support import add_doctor, local, register_patients

DAY = dt.date(2026, 12, 7)  # a Monday
PLATFORM = Actor(None, None, "platform_admin", "platform_admin:ops")


@pytest.fixture
def plans(session):
    return catalogue.ensure_plans(session, PLATFORM)


def desk(clinic):
    return dataclasses.replace(clinic.receptionist, clock=FrozenClock(local(clinic, DAY, 10)))


def test_three_plans_are_seeded_cheapest_first(session, plans):
    assert [p.code for p in catalogue.list_plans(session)] == ["starter", "growth", "hospital"]
    catalogue.ensure_plans(session, PLATFORM)  # idempotent
    assert len(catalogue.list_plans(session)) == 3


def test_cap_hit_refuses_a_walk_in_but_not_an_emergency(session, plans, clinic_a):
    subscriptions.subscribe(
        session, PLATFORM, tenant_id=clinic_a.tenant_id, plan_code="starter", start=DAY
    )
    clinic_a.tenant.settings = {**clinic_a.tenant.settings, "plan": {"token_daily_cap": 2}}
    session.flush()
    patients = register_patients(session, clinic_a, 4)
    at = desk(clinic_a)
    dept = clinic_a.department.id
    for pid in patients[:2]:
        issue_token(session, at, patient_id=pid, department_id=dept, kind="walk_in")
    with pytest.raises(PlanLimitReached, match="limit of your plan \\(2\\)"):
        issue_token(session, at, patient_id=patients[2], department_id=dept, kind="walk_in")
    emergency = issue_token(
        session, at, patient_id=patients[3], department_id=dept, kind="emergency"
    )
    assert emergency.created and emergency.code == "GEN-003"


def test_suspended_clinic_cannot_issue_or_book_until_resumed(session, plans, clinic_a):
    doctor = add_doctor(session, clinic_a)
    subscriptions.subscribe(
        session, PLATFORM, tenant_id=clinic_a.tenant_id, plan_code="growth", start=DAY
    )
    subscriptions.suspend_clinic(
        session, PLATFORM, tenant_id=clinic_a.tenant_id, reason="unpaid invoice"
    )
    p1, p2 = register_patients(session, clinic_a, 2)
    at = desk(clinic_a)
    with pytest.raises(ClinicSuspended, match="suspended"):
        issue_token(
            session, at, patient_id=p1, department_id=clinic_a.department.id, kind="walk_in"
        )
    with pytest.raises(ClinicSuspended):
        book_appointment(
            session, at, doctor_id=doctor.id, patient_id=p1, slot_start=local(clinic_a, DAY, 12)
        )
    issue_token(session, at, patient_id=p2, department_id=clinic_a.department.id, kind="emergency")
    subscriptions.resume_clinic(session, PLATFORM, tenant_id=clinic_a.tenant_id)
    issue_token(session, at, patient_id=p1, department_id=clinic_a.department.id, kind="walk_in")


def test_monthly_bill_adds_branches_beyond_the_plan_and_gst(session, plans):
    growth = {p.code: p for p in plans}["growth"]
    bill = catalogue.monthly_bill(growth, branches=3)
    assert [line.amount_minor for line in bill.lines] == [499900, 149900]
    assert bill.subtotal_minor == 649800
    assert [(g.label, g.amount_minor) for g in bill.gst] == [
        ("CGST 9%", 58482),
        ("SGST 9%", 58482),
    ]
    assert bill.total_minor == 649800 + 116964
    igst = catalogue.monthly_bill(growth, branches=1, interstate=True)
    assert [(g.label, g.amount_minor) for g in igst.gst] == [("IGST 18%", 89982)]


def test_clinic_usage_and_platform_overview(session, plans, clinic_a, clinic_b):
    subscriptions.subscribe(
        session, PLATFORM, tenant_id=clinic_a.tenant_id, plan_code="starter", start=DAY
    )
    (pid,) = register_patients(session, clinic_a, 1)
    issue_token(
        session,
        desk(clinic_a),
        patient_id=pid,
        department_id=clinic_a.department.id,
        kind="walk_in",
    )
    now = local(clinic_a, DAY, 11)
    mine = usage.clinic_usage(session, clinic_a.admin, tenant_id=clinic_a.tenant_id, now=now)
    assert (mine.plan, mine.tokens_today, mine.token_daily_cap) == ("Starter", 1, 100)
    assert mine.message_quota == 1000 and mine.messages_total == 0
    assert mine.bill is not None and mine.bill.total_minor == 199900 + 2 * 17991
    lines = {c.slug: c for c in usage.platform_overview(session, PLATFORM, now=now)}
    assert lines["clinic-a"].plan == "Starter" and lines["clinic-a"].tokens_today == 1
    assert lines["clinic-b"].plan is None
    with pytest.raises(PermissionDenied):
        usage.platform_overview(session, clinic_a.admin, now=now)
    with pytest.raises(NotFound):
        usage.clinic_usage(session, clinic_b.admin, tenant_id=clinic_a.tenant_id, now=now)
    with pytest.raises(PermissionDenied):
        subscriptions.suspend_clinic(
            session, clinic_a.admin, tenant_id=clinic_a.tenant_id, reason="x"
        )
