"""The demo seed on a fresh database of each backend: run twice, every invariant holds.

The seed commits for real under fixed slugs, so each backend gets its own new database here
(not the shared ``db`` fixture's), seeded once per module and dropped afterwards.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from core import audit
from core.auth.users import authenticate
from core.clock import FrozenClock
from core.plans.catalogue import PLANS
from core.plans.limits import PLAN_KEY
from db.base import Base
from db.engine import ALL_TENANTS, Database, make_engine
from db.migrate import upgrade
from db.models import (
    Appointment,
    Bill,
    BillItem,
    DoctorLeave,
    Patient,
    Payment,
    Plan,
    QueueToken,
    Tenant,
    TokenCounter,
)
from db.models import Sequence as Counter
from qlink.seed import DemoSummary, seed_demo
from qlink.seed.clinics import SHARMA
from qlink.seed.patients import SeedPatient, generate_profiles
from qlink.seed.plans import DayWindow, DoctorPlan
from qlink.seed.visits import simulate
from qlink.settings import Settings
from tests import conftest

NOW = dt.datetime(2026, 11, 21, 5, 30, tzinfo=dt.UTC)  # 11:00 in Kolkata
TODAY = dt.date(2026, 11, 21)


@dataclass
class Seeded:
    db: Database
    first: DemoSummary
    second: DemoSummary
    rows_before: dict[str, int]
    rows_after: dict[str, int]


@pytest.fixture(scope="module", params=conftest.BACKENDS)
def seeded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Seeded]:
    tmp = tmp_path_factory.mktemp("seed")
    with _fresh_database(request.param, tmp) as database:
        settings = Settings.from_env({"QLINK_DATA_KEY": "seed-test-key"}, var_dir=tmp / "var")
        first = seed_demo(database, settings, clock=FrozenClock(NOW))
        before = _row_counts(database)
        second = seed_demo(database, settings, clock=FrozenClock(NOW))
        yield Seeded(database, first, second, before, _row_counts(database))


@pytest.fixture
def seeded_session(seeded: Seeded) -> Iterator[Session]:
    with seeded.db.transaction(ALL_TENANTS, readonly=True) as sess:
        yield sess


@contextmanager
def _fresh_database(backend: str, tmp: Path) -> Iterator[Database]:
    """A new, migrated database; PostgreSQL skips when absent (fails when CI=true)."""
    with _fresh_url(backend, tmp) as url:
        conftest._ran.add(backend)
        database = Database(make_engine(url))
        try:
            upgrade(database.engine)
            yield database
        finally:
            database.dispose()


@contextmanager
def _fresh_url(backend: str, tmp: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp / 'seed.db'}"
        return
    admin = create_engine(conftest.PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"qlink_seed_{uuid.uuid4().hex[:10]}"
    try:
        try:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        except OperationalError as exc:
            conftest._unavailable(
                f"PostgreSQL not reachable at {conftest.PG_ADMIN_URL}: {exc.orig}"
            )
        try:
            yield conftest.PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def _row_counts(database: Database) -> dict[str, int]:
    with database.transaction(ALL_TENANTS, readonly=True) as sess:
        return {
            t.name: int(sess.scalar(select(func.count()).select_from(t)) or 0)
            for t in Base.metadata.sorted_tables
        }


def _tenant_id(session: Session, slug: str) -> int:
    return int(session.scalar(select(Tenant.id).where(Tenant.slug == slug)) or 0)


def test_second_run_succeeds_and_changes_nothing(seeded: Seeded):
    assert seeded.first.created and not seeded.second.created
    assert seeded.rows_after == seeded.rows_before
    assert seeded.second.clinics == seeded.first.clinics
    assert seeded.first.tenant_slugs == ("sharma", "lakeview")


def test_seed_fills_the_clinics(seeded: Seeded):
    sharma, lakeview = seeded.first.clinics
    assert (sharma.patients, lakeview.patients) == (600, 80)
    assert sharma.tokens > 3000 and sharma.bills > 3000 and lakeview.tokens > 200
    assert seeded.rows_before["prescriptions"] > 0 and seeded.rows_before["diagnoses"] > 0


def test_demo_plans_are_the_catalogue_of_core(seeded_session: Session):
    columns = ("code", "name", "monthly_price_minor", "message_quota", "token_daily_cap")
    rows = seeded_session.execute(
        select(*(getattr(Plan, c) for c in columns), Plan.max_doctors, Plan.features).order_by(
            Plan.monthly_price_minor
        )
    )
    assert [tuple(r) for r in rows] == [
        (
            *(getattr(p, c) for c in columns),
            p.max_doctors,
            {"included_branches": p.included_branches, "extra_branch_minor": p.extra_branch_minor},
        )
        for p in PLANS
    ]


def test_demo_whatsapp_numbers_route_to_their_branches(seeded_session: Session):
    rows = seeded_session.execute(
        text(
            "SELECT w.phone_number_id, t.slug, b.slug FROM whatsapp_numbers w "
            "JOIN tenants t ON t.id = w.tenant_id JOIN branches b ON b.id = w.branch_id"
        )
    )
    assert sorted(tuple(r) for r in rows) == [
        ("100000000000001", "sharma", "main"),
        ("100000000000002", "lakeview", "north"),
    ]


def test_token_numbers_are_contiguous_per_department_and_day(seeded_session: Session):
    numbers: dict[tuple[int, int, dt.date], list[int]] = {}
    columns = (QueueToken.tenant_id, QueueToken.department_id, QueueToken.service_date)
    for *key, number in seeded_session.execute(select(*columns, QueueToken.number)):
        numbers.setdefault(tuple(key), []).append(number)
    assert numbers
    for key, values in numbers.items():
        assert sorted(values) == list(range(1, len(values) + 1)), key
    counters = seeded_session.execute(
        select(
            TokenCounter.tenant_id,
            TokenCounter.department_id,
            TokenCounter.service_date,
            TokenCounter.last_number,
        )
    )
    assert {tuple(key): last for *key, last in counters} == {
        key: len(values) for key, values in numbers.items()
    }


def test_token_codes_carry_department_and_number(seeded_session: Session):
    token = seeded_session.scalars(select(QueueToken).where(QueueToken.number == 14).limit(1)).one()
    assert token.code.endswith("-014") and token.code[:3].isalpha()


def test_no_seat_is_double_booked(seeded_session: Session):
    doubled = seeded_session.execute(
        select(Appointment.doctor_id, Appointment.slot_start, Appointment.seat)
        .where(Appointment.status != "cancelled")
        .group_by(
            Appointment.tenant_id, Appointment.doctor_id, Appointment.slot_start, Appointment.seat
        )
        .having(func.count() > 1)
    ).all()
    assert doubled == []


def test_finished_visits_have_ordered_times(seeded_session: Session):
    for t in seeded_session.scalars(select(QueueToken).where(QueueToken.status == "done")):
        assert t.issued_at <= t.called_at <= t.started_at < t.finished_at  # type: ignore[operator]


def test_bills_are_never_overpaid_and_add_up(seeded_session: Session):
    items = dict(
        seeded_session.execute(
            select(BillItem.bill_id, func.sum(BillItem.amount_minor)).group_by(BillItem.bill_id)
        ).all()
    )
    paid = dict(
        seeded_session.execute(
            select(Payment.bill_id, func.sum(Payment.amount_minor)).group_by(Payment.bill_id)
        ).all()
    )
    for bill in seeded_session.scalars(select(Bill)):
        assert bill.paid_minor <= bill.total_minor == items[bill.id]
        assert bill.paid_minor == paid.get(bill.id, 0)
        assert bill.status == (
            "paid"
            if bill.paid_minor == bill.total_minor
            else "partially_paid"
            if bill.paid_minor
            else "pending"
        )


def test_bill_and_receipt_counters_continue_after_history(seeded_session: Session):
    tenant = _tenant_id(seeded_session, "sharma")
    last = dict(
        seeded_session.execute(
            select(Counter.name, Counter.last_value).where(Counter.tenant_id == tenant)
        ).all()
    )
    bills = seeded_session.scalar(
        select(func.count()).select_from(Bill).where(Bill.tenant_id == tenant)
    )
    receipts = seeded_session.scalar(
        select(func.count()).select_from(Payment).where(Payment.tenant_id == tenant)
    )
    assert (last["bill_number"], last["receipt_number"]) == (bills, receipts)
    assert last["patient_code"] == 600


def test_patient_codes_are_unique_per_tenant(seeded_session: Session):
    codes = seeded_session.execute(select(Patient.tenant_id, Patient.code)).all()
    assert len(codes) == len(set(codes)) == 680


def test_no_show_rate_is_plausible(seeded_session: Session):
    rows = dict(
        seeded_session.execute(
            select(Appointment.status, func.count())
            .where(Appointment.service_date < TODAY)
            .group_by(Appointment.status)
        ).all()
    )
    rate = rows["no_show"] / (rows["no_show"] + rows["completed"])
    assert 0.05 <= rate <= 0.20


def test_upcoming_bookings_skip_the_doctors_leave(seeded_session: Session):
    tenant = _tenant_id(seeded_session, "sharma")
    leave = seeded_session.scalars(
        select(DoctorLeave).where(DoctorLeave.tenant_id == tenant, DoctorLeave.start_date > TODAY)
    ).one()
    upcoming = select(Appointment.service_date).where(
        Appointment.tenant_id == tenant,
        Appointment.doctor_id == leave.doctor_id,
        Appointment.status == "scheduled",
    )
    days = set(seeded_session.scalars(upcoming))
    assert days and all(not leave.start_date <= d <= leave.end_date for d in days)
    assert (leave.end_date - leave.start_date).days == 2


def test_demo_logins_sign_in(seeded: Seeded):
    with seeded.db.transaction(ALL_TENANTS) as sess:
        actor, _ = authenticate(
            sess, username="reception", password="demo-reception-2026", clinic=SHARMA.slug, now=NOW
        ).unwrap()
    assert actor.role == "receptionist"


def test_audit_chain_of_the_demo_clinic_verifies(seeded_session: Session):
    report = audit.verify_chain(seeded_session, _tenant_id(seeded_session, "sharma"))
    assert report.ok and report.entries > 600


def test_generated_patients_are_deterministic():
    one = generate_profiles(random.Random(1), 50, TODAY)
    two = generate_profiles(random.Random(1), 50, TODAY)
    assert one == two
    assert all(p.phone.startswith("+9199999") for p in one)
    assert all(p.guardian is not None for p in one if p.age < 18)


def test_simulated_history_is_deterministic():
    window = DayWindow(9 * 60, 17 * 60, 15, ((13 * 60, 14 * 60),))
    doctor = DoctorPlan(0, "GEN", 16, {d: (window,) for d in range(6)}, frozenset())
    patients = [SeedPatient(i, 20 + i % 50, "female", 1.0, 0, False) for i in range(200)]
    days = [TODAY - dt.timedelta(days=n) for n in range(14, 0, -1)]
    one = simulate(random.Random(7), [doctor], patients, days)
    two = simulate(random.Random(7), [doctor], patients, days)
    assert one == two and len(one) > 100
    assert not [v for v in one if v.day.weekday() == 6]  # no Sunday window, no visits


def test_demo_clinics_have_approved_templates_in_both_languages(seeded_session: Session):
    from core.messaging.outbound import approved_template
    from qlink.seed.clinics import CLINICS

    names = ("qlink_reminder_24h", "qlink_reminder_1h", "qlink_rating_request", "qlink_document")
    for spec in CLINICS:
        tenant_id = _tenant_id(seeded_session, spec.slug)
        for lang in ("en", "hi"):
            for name in names:
                row = approved_template(seeded_session, tenant_id, name, lang)
                assert row is not None and row.language == lang, (spec.slug, name, lang)
        hindi = approved_template(seeded_session, tenant_id, "qlink_reminder_24h", "hi")
        assert hindi is not None and hindi.body.count("{{") == 4 and "अपॉइंटमेंट" in hindi.body


def test_demo_clinics_carry_their_plans_token_cap(seeded_session: Session):
    """Subscribed through core: the cap a desk is held to is the plan's (it was missing)."""
    caps = {p.code: p.token_daily_cap for p in PLANS}
    tenant = seeded_session.scalars(select(Tenant).where(Tenant.slug == SHARMA.slug)).one()
    assert tenant.settings[PLAN_KEY] == {
        "code": SHARMA.plan_code,
        "token_daily_cap": caps[SHARMA.plan_code],
    }
