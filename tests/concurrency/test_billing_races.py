"""Billing races committed for real on PostgreSQL: bill and receipt numbers, free follow-ups.

Threads start behind a barrier, each in its own transaction, like desks clicking at once.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import select

from core.billing import bills, catalogue, payments
from core.clock import FrozenClock
from core.errors import ValidationFailed
from core.queue import calling, lifecycle
from core.queue.issuing import issue_token
from db.models import Bill, Payment
from tests.support import add_doctor, make_clinic, register_patients

THREADS = 8
NOW = dt.datetime(2026, 12, 7, 4, 0, tzinfo=dt.UTC)  # Monday 09:30 in Kolkata


class Boom(Exception):
    pass


def _desk(clinic, when=NOW):
    return dataclasses.replace(clinic.receptionist, clock=FrozenClock(when))


def _clinic_with_tokens(db, n):
    with db.transaction("*") as s:
        clinic = make_clinic(s)
        doctor = add_doctor(s, clinic, fee_minor=50000)
        tokens = [
            issue_token(
                s,
                _desk(clinic),
                patient_id=p,
                department_id=clinic.department.id,
                kind="walk_in",
                doctor_id=doctor.id,
            ).id
            for p in register_patients(s, clinic, n)
        ]
    return clinic, doctor, tokens


def _at_once(jobs):
    barrier = threading.Barrier(len(jobs), timeout=60)

    def run(job):
        barrier.wait()
        try:
            return job()
        except Boom:
            return None

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        return list(pool.map(run, jobs))


def test_bill_numbers_are_unique_and_gap_free_when_one_desk_rolls_back(pg_db):
    clinic, _, tokens = _clinic_with_tokens(pg_db, THREADS + 1)

    def opener(token_id, fail=False):
        def job():
            with pg_db.transaction(clinic.tenant_id) as s:
                number = bills.open_bill(s, _desk(clinic), token_id=token_id).number
                if fail:
                    raise Boom
                return number

        return job

    jobs = [opener(t) for t in tokens[:THREADS]] + [opener(tokens[THREADS], fail=True)]
    numbers = [n for n in _at_once(jobs) if n is not None]
    assert sorted(numbers) == [f"B-{i:06d}" for i in range(1, THREADS + 1)]


def test_two_desks_opening_one_visit_get_the_same_bill(pg_db):
    clinic, _, tokens = _clinic_with_tokens(pg_db, 1)

    def job():
        with pg_db.transaction(clinic.tenant_id) as s:
            return bills.open_bill(s, _desk(clinic), token_id=tokens[0]).id

    ids = _at_once([job, job, job])
    assert len(set(ids)) == 1
    with pg_db.transaction(clinic.tenant_id, readonly=True) as s:
        assert s.scalars(select(Bill.number).where(Bill.tenant_id == clinic.tenant_id)).all() == [
            "B-000001"
        ]


def test_receipt_numbers_are_unique_and_gap_free_and_a_bill_is_never_overpaid(pg_db):
    clinic, _, tokens = _clinic_with_tokens(pg_db, THREADS)
    with pg_db.transaction(clinic.tenant_id) as s:
        bill_ids = [bills.open_bill(s, _desk(clinic), token_id=t).id for t in tokens]

    def payer(bill_id, amount):
        def job():
            with pg_db.transaction(clinic.tenant_id) as s:
                return payments.record_payment(
                    s, _desk(clinic), bill_id=bill_id, mode="cash", amount_minor=amount
                ).receipt_number

        return job

    # every bill paid in full by one desk, and the first bill twice more by ₹300 each (₹500 due)
    jobs = [payer(b, 50000) for b in bill_ids[1:]] + [payer(bill_ids[0], 30000)] * 2
    results = _at_once([_refusing(j) for j in jobs])
    receipts = [r for r in results if r is not None]
    assert sorted(receipts) == [f"R-{i:06d}" for i in range(1, len(receipts) + 1)]
    assert len(receipts) == THREADS  # one of the two ₹300 payments was refused (₹200 left)
    with pg_db.transaction(clinic.tenant_id, readonly=True) as s:
        first = s.get(Bill, bill_ids[0])
        assert (first.paid_minor, first.status) == (30000, "partially_paid")
        paid = s.scalars(select(Payment.amount_minor).where(Payment.bill_id == bill_ids[0]))
        assert list(paid) == [30000]


def _refusing(job):
    def run():
        try:
            return job()
        except ValidationFailed:
            return None

    return run


def test_two_desks_at_once_give_exactly_one_free_follow_up(pg_db):
    later = NOW + dt.timedelta(days=3)
    with pg_db.transaction("*") as s:
        clinic = make_clinic(s)
        doctor = add_doctor(s, clinic, fee_minor=50000)
        catalogue.set_free_followup(s, clinic.admin, doctor_id=doctor.id, days=7, visits=1)
        (patient,) = register_patients(s, clinic, 1)

        def token(when):
            return issue_token(
                s,
                _desk(clinic, when),
                patient_id=patient,
                department_id=clinic.department.id,
                kind="follow_up",
                doctor_id=doctor.id,
            ).id

        first = bills.open_bill(s, _desk(clinic), token_id=token(NOW))
        payments.record_payment(s, _desk(clinic), bill_id=first.id, mode="cash", amount_minor=50000)
        seen = token(later)  # this visit is over; the patient comes back the same day
        calling.call_next(s, _desk(clinic, later), doctor_id=doctor.id)
        lifecycle.start_consultation(s, _desk(clinic, later), token_id=seen)
        lifecycle.finish_token(s, _desk(clinic, later), token_id=seen)
        again = token(later)

    def opener(token_id):
        def job():
            with pg_db.transaction(clinic.tenant_id) as s:
                return bills.open_bill(s, _desk(clinic, later), token_id=token_id).total_minor

        return job

    totals = _at_once([opener(seen), opener(again)])
    assert sorted(totals) == [0, 50000]
