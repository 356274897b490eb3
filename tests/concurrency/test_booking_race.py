"""Races for one slot, committed for real: the seat index lets exactly ``capacity`` win."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from core.audit import verify_chain
from core.auth.users import actor_for, create_user
from core.clock import FrozenClock
from core.errors import Conflict, SlotTaken
from core.scheduling.booking import book_appointment, cancel_appointment
from core.scheduling.doctors import add_weekly_schedule
from db.models import Appointment, AuditEntry, Patient
from tests.support import add_doctor, make_clinic

NOW = dt.datetime(2029, 12, 1, tzinfo=dt.UTC)
SLOT = dt.datetime(2030, 1, 7, 9, 0, tzinfo=ZoneInfo("Asia/Kolkata"))  # a Monday


def _committed_clinic(db, *, patients, capacity=1):
    with db.transaction("*") as s:
        clinic = make_clinic(s)
        doctor = add_doctor(s, clinic, weekdays=(1, 2, 3, 4) if capacity > 1 else (0, 1, 2, 3, 4))
        if capacity > 1:
            add_weekly_schedule(
                s,
                clinic.admin,
                doctor_id=doctor.id,
                branch_id=clinic.branch.id,
                weekdays=[0],
                start=dt.time(9),
                end=dt.time(17),
                slot_minutes=30,
                capacity=capacity,
            )
        ids = []
        for n in range(patients):
            patient = Patient(
                tenant_id=clinic.tenant_id,
                code=f"PATX{n:03d}",
                full_name=f"Patient {n}",
                name_key=f"patient {n}",
            )
            s.add(patient)
            s.flush()
            ids.append(patient.id)
    return clinic, doctor.id, ids


def _race(db, clinic, doctor_id, bookers):
    """Start every (actor, patient_id) at once behind a barrier; return their outcomes."""
    barrier = threading.Barrier(len(bookers))

    def attempt(booker):
        actor, patient_id = booker
        barrier.wait(timeout=30)
        try:
            with db.transaction(clinic.tenant_id) as s:
                appt = book_appointment(
                    s, actor, doctor_id=doctor_id, patient_id=patient_id, slot_start=SLOT
                )
                return ("booked", appt.id, appt.seat)
        except SlotTaken as exc:
            return ("taken", exc.message, exc.alternatives)

    with ThreadPoolExecutor(max_workers=len(bookers)) as pool:
        return list(pool.map(attempt, bookers))


def _seat_rows(db, clinic, doctor_id):
    with db.transaction(clinic.tenant_id, readonly=True) as s:
        return s.scalars(
            select(Appointment.seat).where(
                Appointment.doctor_id == doctor_id,
                Appointment.slot_start == SLOT,
                Appointment.status != "cancelled",
            )
        ).all()


def _assert_winners(db, clinic, doctor_id, outcomes, winners):
    booked = [o for o in outcomes if o[0] == "booked"]
    taken = [o for o in outcomes if o[0] == "taken"]
    assert len(booked) == winners and len(taken) == len(outcomes) - winners
    assert sorted(o[2] for o in booked) == list(range(1, winners + 1))
    assert all(msg == "Slot just taken" and alts for _, msg, alts in taken)
    assert all(a.start > SLOT.astimezone(dt.UTC) for _, _, alts in taken for a in alts)
    assert sorted(_seat_rows(db, clinic, doctor_id)) == list(range(1, winners + 1))
    with db.transaction(clinic.tenant_id, readonly=True) as s:
        assert verify_chain(s, clinic.tenant_id).ok
        audited = s.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(
                AuditEntry.tenant_id == clinic.tenant_id, AuditEntry.action == "appointment.book"
            )
        )
        assert audited == winners


def _desk(clinic):
    return dataclasses.replace(clinic.receptionist, clock=FrozenClock(NOW))


@pytest.mark.timeout(120)
def test_twenty_bookers_one_slot_exactly_one_wins(db):
    clinic, doctor_id, patients = _committed_clinic(db, patients=20)
    actor = _desk(clinic)
    outcomes = _race(db, clinic, doctor_id, [(actor, p) for p in patients])
    _assert_winners(db, clinic, doctor_id, outcomes, winners=1)


@pytest.mark.timeout(120)
def test_capacity_three_lets_exactly_three_win(db):
    clinic, doctor_id, patients = _committed_clinic(db, patients=20, capacity=3)
    actor = _desk(clinic)
    outcomes = _race(db, clinic, doctor_id, [(actor, p) for p in patients])
    _assert_winners(db, clinic, doctor_id, outcomes, winners=3)


@pytest.mark.timeout(60)
def test_two_receptionists_same_moment_one_success_one_clear_error(db):
    clinic, doctor_id, patients = _committed_clinic(db, patients=2)
    with db.transaction("*") as s:
        user = create_user(
            s,
            clinic.system,
            username=f"second.{clinic.tenant.slug}",
            password="correct-horse-1",
            full_name="Second Receptionist",
            role="receptionist",
            branch_id=clinic.branch.id,
        )
        second = dataclasses.replace(actor_for(user), clock=FrozenClock(NOW))
    outcomes = _race(db, clinic, doctor_id, [(_desk(clinic), patients[0]), (second, patients[1])])
    _assert_winners(db, clinic, doctor_id, outcomes, winners=1)
    taken = next(o for o in outcomes if o[0] == "taken")
    assert [a.label for a in taken[2]] == ["09:30", "10:00", "10:30"]


@pytest.mark.timeout(60)
def test_retries_with_one_idempotency_key_make_one_booking(db):
    clinic, doctor_id, (patient,) = _committed_clinic(db, patients=1)
    actor = _desk(clinic)
    barrier = threading.Barrier(4)

    def attempt(_n):
        barrier.wait(timeout=30)
        with db.transaction(clinic.tenant_id) as s:
            return book_appointment(
                s,
                actor,
                doctor_id=doctor_id,
                patient_id=patient,
                slot_start=SLOT,
                source="whatsapp",
                idempotency_key="wamid.HBgM-retry",
            ).id

    with ThreadPoolExecutor(max_workers=4) as pool:
        ids = set(pool.map(attempt, range(4)))
    assert len(ids) == 1
    assert _seat_rows(db, clinic, doctor_id) == [1]


@pytest.mark.timeout(60)
def test_two_cancels_of_one_appointment_one_wins(db):
    clinic, doctor_id, (patient,) = _committed_clinic(db, patients=1)
    actor = _desk(clinic)
    with db.transaction(clinic.tenant_id) as s:
        appt_id = book_appointment(
            s, actor, doctor_id=doctor_id, patient_id=patient, slot_start=SLOT
        ).id
    barrier = threading.Barrier(2)

    def attempt(n):
        barrier.wait(timeout=30)
        try:
            with db.transaction(clinic.tenant_id) as s:
                cancel_appointment(s, actor, appointment_id=appt_id, reason=f"desk {n}")
                return "cancelled"
        except Conflict:
            return "conflict"

    with ThreadPoolExecutor(max_workers=2) as pool:
        assert sorted(pool.map(attempt, range(2))) == ["cancelled", "conflict"]
    assert _seat_rows(db, clinic, doctor_id) == []


@pytest.mark.timeout(120)
def test_one_patient_racing_for_two_seats_of_one_slot_gets_one(db):
    """Capacity 2, the same patient booked twice at once: the database keeps one seat."""
    clinic, doctor_id, (patient_id,) = _committed_clinic(db, patients=1, capacity=2)
    desk = _desk(clinic)
    barrier = threading.Barrier(2)

    def attempt(_):
        barrier.wait(timeout=30)
        try:
            with db.transaction(clinic.tenant_id) as s:
                book_appointment(
                    s, desk, doctor_id=doctor_id, patient_id=patient_id, slot_start=SLOT
                )
                return "booked"
        except Conflict:
            return "conflict"

    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = sorted(pool.map(attempt, range(2)))
    assert outcomes == ["booked", "conflict"]
    assert _seat_rows(db, clinic, doctor_id) == [1]
