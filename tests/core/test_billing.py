"""Billing in core: a bill per visit, items and tax per item, payments, free follow-ups.

SPEC §5 examples 3 (₹22,500 with cash ₹15,000 / card ₹4,500 / UPI ₹3,000) and 7 (partial
payment, then the rest) hold here with their exact figures, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from sqlalchemy import select

from core.auth.users import actor_for, create_user
from core.billing import bills, catalogue, payments, upi, views
from core.billing.money import format_inr, parse_rupees, tax_on
from core.clock import FrozenClock
from core.context import Actor
from core.errors import Conflict, PermissionDenied, ValidationFailed
from core.queue.issuing import issue_token
from db.models import AuditEntry
from tests.support import Clinic, add_doctor, register_patients

NOW = dt.datetime(2026, 12, 7, 4, 0, tzinfo=dt.UTC)  # Monday 09:30 in Kolkata
DAY = dt.date(2026, 12, 7)


def desk(clinic: Clinic, when: dt.datetime = NOW):
    return dataclasses.replace(clinic.receptionist, clock=FrozenClock(when))


def visit(session, clinic, doctor_id, patient_id, when=NOW):
    actor = desk(clinic, when)
    token = issue_token(
        session,
        actor,
        patient_id=patient_id,
        department_id=clinic.department.id,
        kind="walk_in",
        doctor_id=doctor_id,
    )
    return bills.open_bill(session, actor, token_id=token.id)


def item(session, clinic, code, name, price, *, kind="procedure", rate=0, exempt=False):
    return catalogue.add_catalogue_item(
        session,
        clinic.admin,
        code=code,
        name=name,
        kind=kind,
        unit_price_minor=price,
        tax_rate_bp=rate,
        gst_exempt=exempt,
    )


def test_money_is_shown_the_indian_way_and_parsed_to_paise():
    assert format_inr(12345650) == "₹1,23,456.50"
    assert format_inr(2250000) == "₹22,500.00"
    assert parse_rupees("1,234.5") == 123450
    assert parse_rupees("₹500") == 50000
    assert tax_on(150000, 1800) == 27000
    assert tax_on(1, 1800) == 0 and tax_on(3, 1800) == 1  # half up to a paisa
    for bad in ("", "-5", "1.234", "abc", "12345678"):
        with pytest.raises(ValidationFailed):
            parse_rupees(bad)


def test_bill_opens_with_the_doctors_fee_gst_exempt_and_numbers_run_per_clinic(
    session, clinic_a, clinic_b
):
    doctor = add_doctor(session, clinic_a, fee_minor=50000)
    first, second = register_patients(session, clinic_a, 2)
    bill = visit(session, clinic_a, doctor.id, first)
    assert (bill.number, bill.status, bill.total_minor) == ("B-000001", "pending", 50000)
    again = bills.open_bill(session, desk(clinic_a), token_id=bill.token_id)
    assert again.id == bill.id  # one bill per visit
    view = views.bill_view(session, desk(clinic_a), bill_id=bill.id)
    (line,) = view.lines
    assert (line.kind, line.gst_exempt, line.tax_minor, line.amount_minor) == (
        "consultation",
        True,
        0,
        50000,
    )
    assert visit(session, clinic_a, doctor.id, second).number == "B-000002"
    other = add_doctor(session, clinic_b)
    (outsider,) = register_patients(session, clinic_b, 1)
    assert visit(session, clinic_b, other.id, outsider).number == "B-000001"


def test_tax_is_per_item_and_charged_after_the_discount(session, clinic_a):
    doctor = add_doctor(session, clinic_a, fee_minor=50000)
    (patient,) = register_patients(session, clinic_a, 1)
    bill = visit(session, clinic_a, doctor.id, patient)
    ecg = item(session, clinic_a, "ECG", "ECG", 150000, kind="test", rate=1800)
    syrup = item(session, clinic_a, "SYR", "Cough syrup", 12000, kind="medicine", rate=1200)
    line = bills.add_item(session, desk(clinic_a), bill_id=bill.id, catalogue_item_id=ecg.id)
    bills.add_item(session, desk(clinic_a), bill_id=bill.id, catalogue_item_id=syrup.id, quantity=2)
    assert (bill.subtotal_minor, bill.tax_minor, bill.total_minor) == (
        50000 + 150000 + 24000,
        27000 + 2880,
        50000 + 177000 + 26880,
    )
    bills.set_item_discount(
        session, desk(clinic_a), bill_id=bill.id, item_id=line.id, discount_minor=10000
    )
    assert (line.tax_minor, line.amount_minor) == (25200, 165200)  # 18 % of ₹1,400
    assert bill.discount_minor == 10000
    assert bill.total_minor == 50000 + 165200 + 26880
    bills.remove_item(session, desk(clinic_a), bill_id=bill.id, item_id=line.id)
    assert bill.total_minor == 50000 + 26880
    with pytest.raises(ValidationFailed):
        bills.set_item_discount(
            session,
            desk(clinic_a),
            bill_id=bill.id,
            item_id=bill_lines(session, bill)[0],
            discount_minor=50001,
        )


def bill_lines(session, bill):
    return [line.id for line in views.bill_view(session, desk_of(bill), bill_id=bill.id).lines]


def desk_of(bill):
    return Actor.system(bill.tenant_id, clock=FrozenClock(NOW))


def test_partial_payment_leaves_the_outstanding_and_the_rest_completes_it(session, clinic_a):
    """SPEC §5 example 7."""
    doctor = add_doctor(session, clinic_a, fee_minor=50000)
    (patient,) = register_patients(session, clinic_a, 1)
    bill = visit(session, clinic_a, doctor.id, patient)
    dressing = item(session, clinic_a, "DRS", "Dressing", 70000)
    bills.add_item(session, desk(clinic_a), bill_id=bill.id, catalogue_item_id=dressing.id)
    first = payments.record_payment(
        session, desk(clinic_a), bill_id=bill.id, mode="cash", amount_minor=50000
    )
    view = views.bill_view(session, desk(clinic_a), bill_id=bill.id)
    assert (view.status, view.total_minor, view.outstanding_minor) == (
        "partially_paid",
        120000,
        70000,
    )
    assert format_inr(view.outstanding_minor) == "₹700.00"
    with pytest.raises(ValidationFailed, match=r"more than the outstanding ₹700\.00"):
        payments.record_payment(
            session, desk(clinic_a), bill_id=bill.id, mode="upi", amount_minor=70001
        )
    last = payments.record_payment(
        session, desk(clinic_a), bill_id=bill.id, mode="upi", amount_minor=70000, reference="UTR1"
    )
    view = views.bill_view(session, desk(clinic_a), bill_id=bill.id)
    assert (view.status, view.outstanding_minor) == ("paid", 0)
    assert [p.receipt_number for p in view.payments] == [first.receipt_number, "R-000002"]
    assert bill.paid_at == NOW
    receipt, paid = views.receipt_bill(session, desk(clinic_a), payment_id=last.id)
    assert (paid.receipt_number, paid.mode, paid.amount_minor) == ("R-000002", "upi", 70000)
    with pytest.raises(ValidationFailed, match="already paid"):
        payments.record_payment(
            session, desk(clinic_a), bill_id=bill.id, mode="cash", amount_minor=100
        )
    with pytest.raises(Conflict):  # the bill cannot drop below what was paid
        bills.remove_item(session, desk(clinic_a), bill_id=bill.id, item_id=receipt.lines[1].id)


def test_payment_input_is_checked_and_a_repeated_key_pays_once(session, clinic_a):
    doctor = add_doctor(session, clinic_a, fee_minor=50000)
    (patient,) = register_patients(session, clinic_a, 1)
    bill = visit(session, clinic_a, doctor.id, patient)
    for mode, amount in (("cheque", 100), ("cash", 0), ("cash", -5)):
        with pytest.raises(ValidationFailed):
            payments.record_payment(
                session, desk(clinic_a), bill_id=bill.id, mode=mode, amount_minor=amount
            )
    once = [
        payments.record_payment(
            session,
            desk(clinic_a),
            bill_id=bill.id,
            mode="card",
            amount_minor=20000,
            idempotency_key="form-1",
        )
        for _ in range(2)
    ]
    assert once[0].id == once[1].id and bill.paid_minor == 20000


def test_a_doctor_cannot_bill_or_take_money_even_calling_core(session, clinic_a):
    doctor = add_doctor(session, clinic_a, fee_minor=50000)
    (patient,) = register_patients(session, clinic_a, 1)
    bill = visit(session, clinic_a, doctor.id, patient)
    user = create_user(
        session,
        clinic_a.admin,
        username="dr.asha",
        password="correct-horse-1",
        full_name="Dr. Asha Rao",
        role="doctor",
        doctor_id=doctor.id,
    )
    dr = dataclasses.replace(actor_for(user), clock=FrozenClock(NOW))
    dressing = item(session, clinic_a, "DRS", "Dressing", 70000)
    with pytest.raises(PermissionDenied):
        bills.open_bill(session, dr, token_id=bill.token_id)
    with pytest.raises(PermissionDenied):
        bills.add_item(session, dr, bill_id=bill.id, catalogue_item_id=dressing.id)
    with pytest.raises(PermissionDenied):
        bills.set_item_discount(
            session, dr, bill_id=bill.id, item_id=bill_lines(session, bill)[0], discount_minor=1
        )
    with pytest.raises(PermissionDenied):
        payments.record_payment(session, dr, bill_id=bill.id, mode="cash", amount_minor=100)
    with pytest.raises(PermissionDenied):
        catalogue.add_catalogue_item(
            session, desk(clinic_a), code="X", name="X", kind="test", unit_price_minor=1
        )  # the desk bills from the catalogue; the admin keeps it


def test_free_follow_up_within_the_doctors_days_once_per_paid_consultation(session, clinic_a):
    doctor = add_doctor(session, clinic_a, fee_minor=50000)
    catalogue.set_free_followup(session, clinic_a.admin, doctor_id=doctor.id, days=7, visits=1)
    (patient,) = register_patients(session, clinic_a, 1)
    unpaid = visit(session, clinic_a, doctor.id, patient)
    later = NOW + dt.timedelta(days=1)
    assert visit(session, clinic_a, doctor.id, patient, later).total_minor == 50000  # unpaid
    paid = unpaid
    payments.record_payment(
        session, desk(clinic_a), bill_id=paid.id, mode="cash", amount_minor=50000
    )
    free = visit(session, clinic_a, doctor.id, patient, NOW + dt.timedelta(days=3))
    assert (free.total_minor, free.status) == (0, "paid")
    view = views.bill_view(session, desk(clinic_a), bill_id=free.id)
    assert view.free_followup and view.lines[0].description.endswith("(free follow-up)")
    assert view.lines[0].discount_minor == 50000
    charged = visit(session, clinic_a, doctor.id, patient, NOW + dt.timedelta(days=4))
    assert charged.total_minor == 50000  # the one free visit is used


def test_free_follow_up_ends_after_the_window(session, clinic_a):
    doctor = add_doctor(session, clinic_a, fee_minor=50000)
    catalogue.set_free_followup(session, clinic_a.admin, doctor_id=doctor.id, days=7, visits=2)
    (patient,) = register_patients(session, clinic_a, 1)
    paid = visit(session, clinic_a, doctor.id, patient)
    payments.record_payment(
        session, desk(clinic_a), bill_id=paid.id, mode="cash", amount_minor=50000
    )
    late = visit(session, clinic_a, doctor.id, patient, NOW + dt.timedelta(days=8))
    assert late.total_minor == 50000
    with pytest.raises(ValidationFailed):
        catalogue.set_free_followup(session, clinic_a.admin, doctor_id=doctor.id, days=-1, visits=1)


def test_daily_collection_of_spec_example_3(session, clinic_a):
    """15×₹500 + 12×₹600 + 8×₹700 + ₹2,200 = ₹22,500; cash ₹15,000, card ₹4,500, UPI ₹3,000."""
    fees = {"Dr. A": 50000, "Dr. B": 60000, "Dr. C": 70000}
    doctors = {n: add_doctor(session, clinic_a, name=n, fee_minor=f) for n, f in fees.items()}
    patients = iter(register_patients(session, clinic_a, 35))
    made = [
        visit(session, clinic_a, doctors[name].id, next(patients))
        for name, count in (("Dr. A", 15), ("Dr. B", 12), ("Dr. C", 8))
        for _ in range(count)
    ]
    ecg = item(session, clinic_a, "ECG", "ECG", 150000, kind="test", exempt=True)
    dressing = item(session, clinic_a, "DRS", "Dressing", 70000, exempt=True)
    bills.add_item(session, desk(clinic_a), bill_id=made[0].id, catalogue_item_id=ecg.id)
    bills.add_item(session, desk(clinic_a), bill_id=made[15].id, catalogue_item_id=dressing.id)
    budget = [["cash", 1500000], ["card", 450000], ["upi", 300000]]
    for bill in made:  # pay each bill from the modes in turn, splitting where a mode runs out
        while bill.total_minor > bill.paid_minor:
            mode = budget[0]
            amount = min(mode[1], bill.total_minor - bill.paid_minor)
            payments.record_payment(
                session, desk(clinic_a), bill_id=bill.id, mode=mode[0], amount_minor=amount
            )
            mode[1] -= amount
            if mode[1] == 0:
                budget.pop(0)
    day = views.daily_collection(session, desk(clinic_a), day=DAY)
    assert day.total_minor == 2250000 and format_inr(day.total_minor) == "₹22,500.00"
    assert day.by_mode == {"cash": 1500000, "card": 450000, "upi": 300000}
    assert dict(day.by_doctor) == {"Dr. A": 900000, "Dr. B": 790000, "Dr. C": 560000}
    assert all(b.status == "paid" for b in made)
    next_day = views.daily_collection(session, desk(clinic_a), day=DAY + dt.timedelta(days=1))
    assert next_day.total_minor == 0
    visits = views.todays_visits(session, desk(clinic_a), branch_id=clinic_a.branch.id)
    assert len(visits) == 35 and {v.bill_status for v in visits} == {"paid"}


def test_upi_link_carries_the_clinic_vpa_and_the_outstanding_amount(session, clinic_a):
    doctor = add_doctor(session, clinic_a, fee_minor=50000)
    (patient,) = register_patients(session, clinic_a, 1)
    bill = visit(session, clinic_a, doctor.id, patient)
    with pytest.raises(ValidationFailed, match="UPI ID"):
        upi.bill_upi_uri(session, desk(clinic_a), bill_id=bill.id)
    with pytest.raises(ValidationFailed):
        catalogue.set_billing_settings(session, clinic_a.admin, upi_vpa="not a vpa")
    catalogue.set_billing_settings(
        session, clinic_a.admin, upi_vpa="sunrise.clinic@okhdfc", payee_name="Sunrise Clinic"
    )
    payments.record_payment(
        session, desk(clinic_a), bill_id=bill.id, mode="cash", amount_minor=12350
    )
    assert upi.bill_upi_uri(session, desk(clinic_a), bill_id=bill.id) == (
        "upi://pay?pa=sunrise.clinic@okhdfc&pn=Sunrise%20Clinic&am=376.50&tn=Bill%20B-000001&cu=INR"
    )
    assert upi.qr_png("upi://pay?pa=a@b").startswith(b"\x89PNG")


def test_billing_changes_are_audited(session, clinic_a):
    doctor = add_doctor(session, clinic_a, fee_minor=50000)
    (patient,) = register_patients(session, clinic_a, 1)
    bill = visit(session, clinic_a, doctor.id, patient)
    payments.record_payment(
        session, desk(clinic_a), bill_id=bill.id, mode="cash", amount_minor=50000
    )
    actions = session.scalars(
        select(AuditEntry.action).where(
            AuditEntry.tenant_id == clinic_a.tenant_id, AuditEntry.entity == "bill"
        )
    ).all()
    assert {"bill.open", "payment.record"} <= set(actions)
