"""Web bookings of new patients in one clinic, committed for real on PostgreSQL.

Neither the tenant's patient-code counter nor its audit chain head is locked before commit, so
bookings of different slots do not queue behind each other; codes stay unique and gap-free and
the audit chain verifies, each transaction's entries in order.
"""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from core.audit import verify_chain
from core.messaging.messages import SEND, from_payload
from core.messaging.templates import save_template
from core.patients.phones import PhoneVault
from core.scheduling import web_booking
from core.tenancy import register_whatsapp_number
from db.models import Appointment, AuditEntry, OutboxMessage, Patient
from tests.support import add_doctor, make_clinic

VAULT = PhoneVault("test-key")
NOW = dt.datetime(2026, 12, 1, 4, 0, tzinfo=dt.UTC)
MONDAY = dt.date(2026, 12, 7)
# Twelve half-hour slots of the test doctor's Monday (09:00-17:00, lunch 13:00-14:00)
SLOTS = [
    dt.datetime.combine(MONDAY, dt.time(h, m), tzinfo=ZoneInfo("Asia/Kolkata"))
    for h in (9, 10, 11, 12, 14, 15)
    for m in (0, 30)
]
BOOKERS = len(SLOTS)


def _clinic(db, phones):
    """A committed clinic with one doctor, the OTP template, and a verified ticket per phone."""
    with db.transaction("*") as s:
        clinic = make_clinic(s)
        doctor = add_doctor(s, clinic)
        register_whatsapp_number(
            s, clinic.admin, phone_number_id=f"15{clinic.tenant_id:06d}", branch_id=clinic.branch.id
        )
        save_template(
            s,
            clinic.admin,
            name="qlink_otp",
            language="en",
            category="authentication",
            body="{{1}} is your verification code.",
            status="approved",
        )
    tickets = {}
    for phone in phones:
        with db.transaction(clinic.tenant_id) as s:
            web_booking.issue_code(s, clinic.tenant_id, phone=phone, vault=VAULT, now=NOW)
            s.flush()
            payload = s.scalars(
                select(OutboxMessage.payload)
                .where(OutboxMessage.tenant_id == clinic.tenant_id, OutboxMessage.kind == SEND)
                .order_by(OutboxMessage.id.desc())
            ).first()
            code = from_payload(payload)[1].params[0]
            check = web_booking.verify_code(
                s, clinic.tenant_id, phone=phone, code=code, vault=VAULT, now=NOW
            )
            tickets[phone] = check.ticket
    return clinic, doctor.id, tickets


def _book(s, clinic, doctor_id, ticket, phone, n):
    return web_booking.book_online(
        s,
        clinic.tenant_id,
        ticket=ticket,
        phone=phone,
        full_name=f"Web Patient {n}",
        age_years=30,
        doctor_id=doctor_id,
        branch_id=clinic.branch.id,
        slot_start=SLOTS[n],
        vault=VAULT,
        now=NOW,
    )


@pytest.mark.timeout(180)
def test_parallel_web_bookings_of_new_patients_all_succeed_codes_unique_chain_verifies(pg_db):
    phones = [f"+9197000{n:05d}" for n in range(BOOKERS)]
    clinic, doctor_id, tickets = _clinic(pg_db, phones)
    barrier = threading.Barrier(BOOKERS)

    def attempt(n):
        barrier.wait(timeout=30)
        with pg_db.transaction(clinic.tenant_id) as s:
            booking = _book(s, clinic, doctor_id, tickets[phones[n]], phones[n], n)
            return booking.patient_id

    with ThreadPoolExecutor(max_workers=BOOKERS) as pool:
        patient_ids = list(pool.map(attempt, range(BOOKERS)))

    with pg_db.transaction(clinic.tenant_id, readonly=True) as s:
        codes = dict(
            s.execute(
                select(Patient.id, Patient.code).where(Patient.tenant_id == clinic.tenant_id)
            ).all()
        )
        booked = s.scalars(
            select(Appointment.patient_id).where(Appointment.tenant_id == clinic.tenant_id)
        ).all()
        report = verify_chain(s, clinic.tenant_id)
        entries = s.scalars(
            select(AuditEntry)
            .where(AuditEntry.chain == f"t:{clinic.tenant_id}")
            .order_by(AuditEntry.seq)
        ).all()
    assert sorted(booked) == sorted(patient_ids) and len(set(patient_ids)) == BOOKERS
    new_codes = sorted(codes[p] for p in patient_ids)
    # Unique and gap-free: exactly the next BOOKERS numbers after the clinic's own patients.
    first = int(new_codes[0][3:])
    assert new_codes == [f"PAT{n:04d}" for n in range(first, first + BOOKERS)]
    assert report.ok and report.entries == len(entries)
    assert [e.seq for e in entries] == list(range(1, len(entries) + 1))
    created = {int(e.entity_id): e for e in entries if e.action == "patient.create"}
    bookings = {e.detail["patient_id"]: e for e in entries if e.action == "appointment.book"}
    for pid in patient_ids:
        assert created[pid].detail["code"] == codes[pid]  # the final code, not the placeholder
        assert bookings[pid].seq == created[pid].seq + 1  # one transaction's entries together


@pytest.mark.timeout(120)
def test_a_booking_in_flight_does_not_hold_up_another_new_patients_booking(pg_db):
    """A registers and books but has not committed; B registers, books and commits meanwhile.

    Before, A held the patient-code counter and the audit chain head until its commit, so B
    waited for A (here: A would wait for B and the test fail on the event's deadline).
    """
    phones = ["+919711100001", "+919711100002"]
    clinic, doctor_id, tickets = _clinic(pg_db, phones)
    a_booked, b_committed = threading.Event(), threading.Event()

    def first():
        with pg_db.transaction(clinic.tenant_id) as s:
            booking = _book(s, clinic, doctor_id, tickets[phones[0]], phones[0], 0)
            a_booked.set()
            assert b_committed.wait(timeout=60), "the second booking waited for the first"
            return booking.patient_id

    def second():
        assert a_booked.wait(timeout=60)
        with pg_db.transaction(clinic.tenant_id) as s:
            booking = _book(s, clinic, doctor_id, tickets[phones[1]], phones[1], 1)
        b_committed.set()
        return booking.patient_id

    with ThreadPoolExecutor(max_workers=2) as pool:
        a, b = pool.submit(first), pool.submit(second)
        a_id, b_id = a.result(), b.result()
    with pg_db.transaction(clinic.tenant_id, readonly=True) as s:
        codes = {
            p.id: p.code for p in s.scalars(select(Patient).where(Patient.id.in_([a_id, b_id])))
        }
        assert verify_chain(s, clinic.tenant_id).ok
    # B committed first, so B took the lower number: codes are given at commit.
    assert int(codes[b_id][3:]) + 1 == int(codes[a_id][3:])
