"""The billing page through AppTest: SPEC §5 example 7 (partial payment, then the rest issues
the receipt) by clicks, and example 3's day (₹22,500; cash ₹15,000, card ₹4,500, UPI ₹3,000)
on the collection tab. Data is made through core commands and committed, as a desk sees it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from core.auth.users import authenticate, create_user
from core.billing import bills, catalogue, payments
from core.context import Actor
from core.queue.issuing import issue_token
from db.engine import ALL_TENANTS, Database, make_engine
from db.migrate import upgrade
from db.models import Bill, Payment
from qlink import builder
from qlink.builder import DoctorSpec, Hours
from tests.support import make_clinic, register_patients

APP = Path(__file__).resolve().parents[2] / "apps" / "reception" / "app.py"
DATA_KEY = "ui-test-data-key"
PASSWORD = "correct-horse-1"
ALL_DAY = Hours((0, 1, 2, 3, 4, 5, 6), start=dt.time(0), end=dt.time(23, 30), breaks=())


@dataclass
class Visit:
    database: Database
    tenant_id: int
    receptionist: str
    token_id: int
    dressing_id: int


@pytest.fixture(scope="module")
def database(tmp_path_factory):
    var = tmp_path_factory.mktemp("billing-ui")
    url = f"sqlite:///{var / 'qlink.db'}"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("QLINK_DATABASE_URL", url)
        env.setenv("QLINK_VAR_DIR", str(var))
        env.setenv("QLINK_DATA_KEY", DATA_KEY)
        env.delenv("QLINK_SECRET_KEY", raising=False)
        env.delenv("QLINK_TIMEZONE", raising=False)
        database = Database(make_engine(url))
        upgrade(database.engine)
        yield database
        database.dispose()


def _doctor(session, clinic, name, fee):
    spec = DoctorSpec(name, fee_minor=fee, room="Room 1", hours=(ALL_DAY,))
    return builder.add_doctor(session, clinic.admin, department=clinic.department, spec=spec)


def _token(session, clinic, doctor_id, patient_id):
    return issue_token(
        session, clinic.receptionist, patient_id=patient_id,
        department_id=clinic.department.id, kind="walk_in", doctor_id=doctor_id,
    ).id  # fmt: skip


@pytest.fixture
def visit(database) -> Visit:
    slug = f"b{uuid.uuid4().hex[:8]}"
    with database.transaction(ALL_TENANTS) as session:
        clinic = make_clinic(session, slug)
        doctor = _doctor(session, clinic, "Dr. Asha Rao", 50000)
        (patient,) = register_patients(session, clinic, 1, prefix="Ravi")
        dressing = catalogue.add_catalogue_item(
            session, clinic.admin, code="DRS", name="Dressing", kind="procedure",
            unit_price_minor=70000, gst_exempt=True,
        )  # fmt: skip
        catalogue.set_billing_settings(session, clinic.admin, upi_vpa="clinic@okhdfc")
        token = _token(session, clinic, doctor.id, patient)
        return Visit(database, clinic.tenant_id, f"receptionist.{slug}", token, dressing.id)


def signed_in(database: Database, username: str) -> AppTest:
    with database.transaction(ALL_TENANTS) as session:
        attempt = authenticate(
            session, username=username, password=PASSWORD, now=dt.datetime.now(dt.UTC)
        )
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["qlink_session_secret"] = attempt.unwrap()[1]
    at.run()
    assert not at.exception, at.exception
    at.switch_page("views/billing.py").run()
    assert not at.exception, at.exception
    return at


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_partial_payment_then_the_rest_completes_the_bill_and_issues_the_receipt(visit):
    """SPEC §5 example 7: ₹500 fee + ₹700 dressing; ₹500 cash leaves ₹700; UPI pays the rest."""
    at = signed_in(visit.database, visit.receptionist)
    at.selectbox(key="billing_visit").select(visit.token_id).run()
    at.button(key="billing_open").click().run()
    at.selectbox(key="billing_item").select(visit.dressing_id).run()
    at.button(key="billing_add").click().run()
    assert not at.exception, at.exception
    assert metrics(at)["Total"] == "₹1,200.00"
    at.text_input(key="billing_amount").input("500").run()
    at.button(key="billing_pay").click().run()
    shown = metrics(at)
    assert (shown["Paid"], shown["Outstanding"], shown["Status"]) == (
        "₹500.00",
        "₹700.00",
        "Partly paid",
    )
    at.text_input(key="billing_amount").input("800").run()
    at.button(key="billing_pay").click().run()
    assert any("more than the outstanding ₹700.00" in e.value for e in at.error)
    at.radio(key="billing_mode").set_value("UPI").run()
    at.text_input(key="billing_amount").input("").run()
    at.button(key="billing_pay").click().run()  # empty amount: the outstanding ₹700
    assert not at.exception, at.exception
    shown = metrics(at)
    assert (shown["Outstanding"], shown["Status"]) == ("₹0.00", "Paid")
    assert any("Paid in full. Receipt R-000002" in s.value for s in at.success)
    with visit.database.transaction(visit.tenant_id, readonly=True) as session:
        bill = session.scalar(select(Bill).where(Bill.token_id == visit.token_id))
        paid = session.execute(
            select(Payment.mode, Payment.amount_minor).where(Payment.bill_id == bill.id)
        ).all()
    assert (bill.status, bill.total_minor, bill.paid_minor) == ("paid", 120000, 120000)
    assert sorted(paid) == [("cash", 50000), ("upi", 70000)]


def test_collection_tab_shows_spec_example_3(database):
    slug = f"c{uuid.uuid4().hex[:8]}"
    with database.transaction(ALL_TENANTS) as session:
        clinic = make_clinic(session, slug)
        patients = iter(register_patients(session, clinic, 35))
        made = []
        for name, fee, count in (("Dr. A", 50000, 15), ("Dr. B", 60000, 12), ("Dr. C", 70000, 8)):
            doctor = _doctor(session, clinic, name, fee)
            for _ in range(count):
                token = _token(session, clinic, doctor.id, next(patients))
                made.append(bills.open_bill(session, clinic.receptionist, token_id=token))
        procedure = catalogue.add_catalogue_item(
            session, clinic.admin, code="PRC", name="Procedures", kind="procedure",
            unit_price_minor=220000, gst_exempt=True,
        )  # fmt: skip
        bills.add_item(
            session, clinic.receptionist, bill_id=made[0].id, catalogue_item_id=procedure.id
        )
        budget = [["cash", 1500000], ["card", 450000], ["upi", 300000]]
        for bill in made:
            while bill.total_minor > bill.paid_minor:
                amount = min(budget[0][1], bill.total_minor - bill.paid_minor)
                payments.record_payment(
                    session, clinic.receptionist, bill_id=bill.id, mode=budget[0][0],
                    amount_minor=amount,
                )  # fmt: skip
                budget[0][1] -= amount
                if budget[0][1] == 0:
                    budget.pop(0)
    at = signed_in(database, f"receptionist.{slug}")
    shown = metrics(at)
    today = next(label for label in shown if label.startswith("Collected on"))
    assert shown[today] == "₹22,500.00"
    assert (shown["Cash"], shown["Card"], shown["UPI"]) == ("₹15,000.00", "₹4,500.00", "₹3,000.00")
    doctors = at.dataframe[-1].value
    assert dict(zip(doctors["Doctor"], doctors["Collected"], strict=True)) == {
        "Dr. A": "₹9,700.00",
        "Dr. B": "₹7,200.00",
        "Dr. C": "₹5,600.00",
    }


def test_a_doctor_has_no_billing_page(visit, database):
    with database.transaction(visit.tenant_id) as session:
        create_user(
            session, Actor.system(visit.tenant_id), username=f"doc.{visit.receptionist}",
            password=PASSWORD, full_name="Dr. Asha", role="doctor",
        )  # fmt: skip
    with database.transaction(ALL_TENANTS) as session:
        attempt = authenticate(
            session, username=f"doc.{visit.receptionist}", password=PASSWORD,
            now=dt.datetime.now(dt.UTC),
        )  # fmt: skip
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["qlink_session_secret"] = attempt.unwrap()[1]
    at.run()
    assert not at.exception
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("views/billing.py")
