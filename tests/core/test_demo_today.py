"""The demo's live today: doctors on duty now, a morning of finished visits, people waiting."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from sqlalchemy import select

from core.clock import FrozenClock
from core.queue.line import department_roster
from core.queue.place import queue_place
from db.models import Appointment, QueueToken
from qlink.seed.today import seed_today
from tests.support import add_doctor, add_doctor_in, register_patients

SUNDAY_EVENING = dt.datetime(2026, 11, 29, 13, 30, tzinfo=dt.UTC)  # 19:00 in Kolkata


def statuses(session, clinic, day):
    rows = session.scalars(
        select(QueueToken.status).where(
            QueueToken.tenant_id == clinic.tenant_id, QueueToken.service_date == day
        )
    )
    return Counter(rows)


def test_sunday_evening_demo_has_doctors_on_duty_and_a_live_queue(session, clinic_a, clinic_b):
    doctors = [
        add_doctor(session, clinic_a),
        add_doctor_in(session, clinic_a, clinic_a.department, name="Dr. B"),
    ]
    register_patients(session, clinic_a, 120)
    clock = FrozenClock(SUNDAY_EVENING)

    summary = seed_today(session, clinic_a.tenant.slug, clock=clock)

    place = queue_place(session, clinic_a.tenant_id, clinic_a.department.id)
    day = place.service_date(clock())
    on_duty = department_roster(session, clinic_a.tenant_id, place, day, place.rules)
    assert summary.created and {s.doctor_id for s in on_duty} == {d.id for d in doctors}
    seen = statuses(session, clinic_a, day)
    assert seen["done"] >= 10  # a morning of finished visits
    assert seen["in_consultation"] == len(doctors)  # each doctor is seeing someone now
    assert seen["waiting"] >= 2
    later = session.scalars(
        select(Appointment.id).where(
            Appointment.tenant_id == clinic_a.tenant_id, Appointment.slot_start > clock()
        )
    ).all()
    assert later  # a few bookings for the rest of the day
    assert not statuses(session, clinic_b, day)  # another clinic is untouched


def test_a_second_run_the_same_day_writes_nothing(session, clinic_a):
    add_doctor(session, clinic_a)
    register_patients(session, clinic_a, 60)
    clock = FrozenClock(SUNDAY_EVENING)
    seed_today(session, clinic_a.tenant.slug, clock=clock)
    day = dt.date(2026, 11, 29)
    before = statuses(session, clinic_a, day)

    again = seed_today(session, clinic_a.tenant.slug, clock=clock)

    assert not again.created and statuses(session, clinic_a, day) == before
