"""BI KPIs against hand-computed days: seed 001's 45/40/3/2 day and the ₹22,500 day.

Rows are written directly (a finished past day), then every KPI is read through core; another
clinic sees nothing of them and cannot name their branch, department or doctor.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import subprocess

import pytest
from sqlalchemy import insert
from sqlalchemy.orm import Session

from core import analytics
from core.analytics import bi
from core.analytics.bi import BIFilter, KpiCache
from core.clock import FrozenClock
from core.errors import NotFound, PermissionDenied
from db.models import Appointment, Bill, Doctor, Payment, QueueEvent, QueueToken, Rating
from tests.support import Clinic, add_doctor, local, register_patients

DAY = dt.date(2026, 11, 20)  # a Friday
assert analytics  # the package imports


def _appointments(session: Session, clinic: Clinic, doctors: list[Doctor]) -> None:
    """45 appointments: 40 completed, 3 cancelled, 2 no-shows (seed 001, workflow 4)."""
    patients = register_patients(session, clinic, 45, prefix="Booked")
    statuses = ["completed"] * 40 + ["cancelled"] * 3 + ["no_show"] * 2
    rows = []
    for i, (patient_id, status) in enumerate(zip(patients, statuses, strict=True)):
        doctor = doctors[i % 2]
        start = local(clinic, DAY, 9) + dt.timedelta(minutes=10 * (i // 2))
        rows.append(
            {
                "tenant_id": clinic.tenant_id,
                "branch_id": clinic.branch.id,
                "department_id": clinic.department.id,
                "doctor_id": doctor.id,
                "patient_id": patient_id,
                "slot_start": start,
                "slot_end": start + dt.timedelta(minutes=10),
                "service_date": DAY,
                "status": status,
                "created_at": start - dt.timedelta(days=2 if status == "no_show" else 0, hours=3),
                "updated_at": start,
            }
        )
    session.execute(insert(Appointment), rows)


def _bills(session: Session, clinic: Clinic, doctors: list[Doctor]) -> None:
    """Dr 1: 15 × ₹500, Dr 2: 12 × ₹600, Dr 3: 8 × ₹700, procedures ₹2,200 on two of Dr 1's
    bills; paid cash ₹15,000, card ₹4,500, UPI ₹3,000 (SPEC §5 example 3)."""
    patients = register_patients(session, clinic, 35, prefix="Billed")
    fees = [(doctors[0], 500)] * 15 + [(doctors[1], 600)] * 12 + [(doctors[2], 700)] * 8
    budget = [["cash", 15000], ["card", 4500], ["upi", 3000]]
    paid_at = local(clinic, DAY, 18)
    receipt = 0
    for n, ((doctor, rupees), patient_id) in enumerate(zip(fees, patients, strict=True)):
        total = (rupees + (1100 if n < 2 else 0)) * 100
        bill_id = session.scalars(
            insert(Bill).returning(Bill.id),
            [
                {
                    "tenant_id": clinic.tenant_id,
                    "number": f"B-{n:04d}",
                    "branch_id": clinic.branch.id,
                    "patient_id": patient_id,
                    "doctor_id": doctor.id,
                    "status": "paid",
                    "subtotal_minor": total,
                    "total_minor": total,
                    "paid_minor": total,
                    "issued_at": paid_at,
                    "paid_at": paid_at,
                }
            ],
        ).one()
        due = total
        while due:
            mode = next(b for b in budget if b[1] > 0)
            part = min(due, int(mode[1]) * 100)
            mode[1] = int(mode[1]) - part // 100
            due -= part
            receipt += 1
            session.execute(
                insert(Payment),
                [
                    {
                        "tenant_id": clinic.tenant_id,
                        "bill_id": bill_id,
                        "receipt_number": f"R-{receipt:04d}",
                        "mode": mode[0],
                        "amount_minor": part,
                        "received_at": paid_at,
                    }
                ],
            )


def _tokens(session: Session, clinic: Clinic, doctor: Doctor) -> None:
    """Three walk-ins at 10:00 waiting 10, 20 and 30 minutes; told 15, 15 and 15."""
    patients = register_patients(session, clinic, 3, prefix="Walk")
    issued = local(clinic, DAY, 10)
    for n, (patient_id, wait) in enumerate(zip(patients, (10, 20, 30), strict=True), start=1):
        called = issued + dt.timedelta(minutes=wait)
        token_id = session.scalars(
            insert(QueueToken).returning(QueueToken.id),
            [
                {
                    "tenant_id": clinic.tenant_id,
                    "branch_id": clinic.branch.id,
                    "department_id": clinic.department.id,
                    "doctor_id": doctor.id,
                    "patient_id": patient_id,
                    "service_date": DAY,
                    "queue_key": f"doctor:{doctor.id}:AM",
                    "number": n,
                    "code": f"GEN-{n:03d}",
                    "kind": "walk_in",
                    "status": "done",
                    "issued_at": issued,
                    "called_at": called,
                    "started_at": called,
                    "finished_at": called + dt.timedelta(minutes=6),
                    "eta_at": issued + dt.timedelta(minutes=15),
                    "created_at": issued,
                }
            ],
        ).one()
        session.execute(
            insert(Rating),
            [
                {
                    "tenant_id": clinic.tenant_id,
                    "patient_id": patient_id,
                    "doctor_id": doctor.id,
                    "token_id": token_id,
                    "score": 2 + n,
                    "feedback": "Long wait" if n == 1 else None,
                    "created_at": called + dt.timedelta(hours=1),
                }
            ],
        )


@pytest.fixture
def day(session: Session, clinic_a: Clinic) -> list[Doctor]:
    doctors = [
        add_doctor(session, clinic_a, name=f"Dr. {name}", fee_minor=fee * 100)
        for name, fee in (("One", 500), ("Two", 600), ("Three", 700))
    ]
    _appointments(session, clinic_a, doctors)
    _bills(session, clinic_a, doctors)
    _tokens(session, clinic_a, doctors[0])
    session.flush()
    return doctors


def test_daily_summary_is_seed_001s_day(session: Session, clinic_a: Clinic, day: list[Doctor]):
    table = bi.daily_summary(session, clinic_a.admin, BIFilter(DAY, DAY))
    assert table.records() == [
        {
            "day": DAY,
            "appointments": 45,
            "completed": 40,
            "cancelled": 3,
            "no_show": 2,
            "walk_ins": 3,
        }
    ]
    one = bi.daily_summary(session, clinic_a.admin, BIFilter(DAY, DAY, doctor_id=day[0].id))
    assert one.summary["appointments"] == 23


def test_revenue_is_the_22500_day(session: Session, clinic_a: Clinic, day: list[Doctor]):
    f = BIFilter(DAY - dt.timedelta(days=3), DAY)
    table = bi.revenue(session, clinic_a.admin, f)
    assert table.records() == [
        {
            "day": DAY,
            "cash_minor": 1_500_000,
            "card_minor": 450_000,
            "upi_minor": 300_000,
            "total_minor": 2_250_000,
        }
    ]
    assert (table.summary["cash_pct"], table.summary["card_pct"], table.summary["upi_pct"]) == (
        67,
        20,
        13,
    )
    month = bi.revenue(session, clinic_a.admin, f, period="month")
    assert month.rows == ((DAY.replace(day=1), 1_500_000, 450_000, 300_000, 2_250_000),)
    doctors = bi.revenue_by_doctor(session, clinic_a.admin, f)
    assert doctors.rows == (
        ("Dr. One", 15, 970_000),
        ("Dr. Two", 12, 720_000),
        ("Dr. Three", 8, 560_000),
    )
    only = bi.revenue(session, clinic_a.admin, dataclasses.replace(f, doctor_id=day[2].id))
    assert only.summary["total_minor"] == 560_000


def test_waits_ewt_and_ratings(session: Session, clinic_a: Clinic, day: list[Doctor]):
    f = BIFilter(DAY, DAY)
    heat = bi.wait_heatmap(session, clinic_a.admin, f)
    assert heat.rows == (("Friday", 10, 20.0, 3),)
    ewt = bi.ewt_accuracy(session, clinic_a.admin, f)
    # waits 10/20/30 told 15: |−5|,|5|,|15| → 8.3; naive 20: 10,0,10 → 6.7
    assert ewt.rows == (("General Medicine", 3, 20.0, 8.3, 6.7),)
    rated = bi.ratings(session, clinic_a.admin, f)
    assert rated.rows == (("Dr. One", 3, 4.0, 0, 1),)
    feedback = bi.recent_feedback(session, clinic_a.admin, f)
    assert feedback.column("feedback") == ["Long wait"]
    productivity = bi.doctor_productivity(session, clinic_a.admin, f)
    # Friday 09:00-17:00 less lunch = 420 scheduled minutes; 3 × 6 consulting minutes
    assert productivity.rows[0][:5] == ("Dr. One", 3, 18, 420, 4.3)
    peaks = bi.peak_hours(session, clinic_a.admin, f)
    assert peaks.summary["peak_hour"] == 10
    slots = bi.popular_slots(session, clinic_a.admin, f)
    assert slots.rows[0] == ("Friday", 9, 12)
    no_shows = bi.no_show_rate(session, clinic_a.admin, f)
    assert no_shows.summary == {"appointments": 42, "no_shows": 2, "rate_pct": 4.8}
    assert no_shows.column("booked_ahead") == ["same day", "1-2 days"]


def test_every_kpi_runs_and_an_outsider_sees_nothing(
    session: Session, clinic_a: Clinic, clinic_b: Clinic, day: list[Doctor]
):
    f = BIFilter(DAY - dt.timedelta(days=30), DAY)
    kpis = [
        bi.daily_summary,
        bi.footfall,
        bi.wait_heatmap,
        bi.peak_hours,
        bi.doctor_productivity,
        bi.no_show_rate,
        bi.ewt_accuracy,
        bi.popular_slots,
        bi.revenue,
        bi.revenue_by_doctor,
        bi.case_mix,
        bi.lab_volumes,
        bi.ratings,
        bi.recent_feedback,
        bi.tomorrow_forecast,
    ]
    for kpi in kpis:
        mine = kpi(session, clinic_a.admin, f)
        assert mine.columns and mine.question
        theirs = kpi(session, clinic_b.admin, f)
        assert (
            all(not isinstance(v, int | float) or v == 0 for row in theirs.rows for v in row[1:2])
            or not theirs.rows
        ), kpi.__name__
        for narrow in (
            {"branch_id": clinic_a.branch.id},
            {"department_id": clinic_a.department.id},
            {"doctor_id": day[0].id},
        ):
            with pytest.raises(NotFound):
                kpi(session, clinic_b.admin, dataclasses.replace(f, **narrow))
    assert bi.daily_summary(session, clinic_b.admin, f).rows == ()
    assert bi.revenue(session, clinic_b.admin, f).rows == ()
    risky = bi.highest_risk_upcoming(session, clinic_a.admin, f, today=DAY + dt.timedelta(1))
    assert risky.columns[-1] == "why"
    with pytest.raises(PermissionDenied):
        bi.revenue(session, clinic_a.receptionist, f)


def test_cache_until_the_next_queue_event_or_minute(
    session: Session, clinic_a: Clinic, day: list[Doctor]
):
    cache = KpiCache()
    clock = FrozenClock(local(clinic_a, DAY, 19))
    admin = dataclasses.replace(clinic_a.admin, clock=clock)
    f = BIFilter(DAY, DAY)
    first = bi.daily_summary(session, admin, f, cache=cache)
    session.execute(
        insert(Appointment),
        [
            {
                "tenant_id": clinic_a.tenant_id,
                "branch_id": clinic_a.branch.id,
                "department_id": clinic_a.department.id,
                "doctor_id": day[0].id,
                "patient_id": register_patients(session, clinic_a, 1, prefix="Late")[0],
                "slot_start": local(clinic_a, DAY, 18),
                "slot_end": local(clinic_a, DAY, 18, 10),
                "service_date": DAY,
                "status": "completed",
            }
        ],
    )
    assert bi.daily_summary(session, admin, f, cache=cache) is first  # same minute, no event
    session.execute(
        insert(QueueEvent),
        [
            {
                "tenant_id": clinic_a.tenant_id,
                "branch_id": clinic_a.branch.id,
                "type": "TokenIssued",
                "payload": {},
                "created_at": local(clinic_a, DAY, 19),
            }
        ],
    )
    fresh = bi.daily_summary(session, admin, f, cache=cache)
    assert fresh.summary["appointments"] == 46
    session.execute(
        insert(Appointment),
        [
            {
                "tenant_id": clinic_a.tenant_id,
                "branch_id": clinic_a.branch.id,
                "department_id": clinic_a.department.id,
                "doctor_id": day[1].id,
                "patient_id": register_patients(session, clinic_a, 1, prefix="Later")[0],
                "slot_start": local(clinic_a, DAY, 18),
                "slot_end": local(clinic_a, DAY, 18, 10),
                "service_date": DAY,
                "status": "completed",
            }
        ],
    )
    clock.advance(seconds=61)
    assert bi.daily_summary(session, admin, f, cache=cache).summary["appointments"] == 47


def test_csv_export_parses_back(session: Session, clinic_a: Clinic, day: list[Doctor]):
    table = bi.revenue_by_doctor(session, clinic_a.admin, BIFilter(DAY, DAY))
    rows = list(csv.DictReader(io.StringIO(bi.to_csv(table).decode("utf-8"))))
    assert rows[0] == {"doctor": "Dr. One", "bills": "15", "total_minor": "970000"}
    summary = bi.to_csv(bi.daily_summary(session, clinic_a.admin, BIFilter(DAY, DAY)))
    assert summary.decode().splitlines()[1] == "2026-11-20,45,40,3,2,3"


def test_daily_and_weekly_report_pdfs(session: Session, clinic_a: Clinic, day: list[Doctor]):
    daily = _pdf_text(bi.report_pdf(session, clinic_a.admin, day=DAY))
    assert "Daily report · Friday 20 November 2026" in daily
    for expected in (
        "Appointments 45",
        "Completed 40",
        "Cancelled 3",
        "No-shows 2",
        "Cash (67%) ₹15,000.00",
        "Card (20%) ₹4,500.00",
        "UPI (13%) ₹3,000.00",
        "Total collection ₹22,500.00",
        "Dr. Two",
        "₹7,200.00",
    ):
        assert expected in " ".join(daily.split()), expected
    weekly = _pdf_text(bi.report_pdf(session, clinic_a.admin, day=DAY, kind="weekly"))
    assert "Weekly report · 14 Nov to 20 Nov 2026" in weekly
    assert "Collection per day" in weekly and "Fri 20" in weekly
    with pytest.raises(NotFound):
        bi.report_pdf(session, clinic_a.admin, day=DAY, doctor_id=10**9)


def _pdf_text(pdf: bytes) -> str:
    assert pdf.startswith(b"%PDF")
    done = subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True
    )
    return done.stdout.decode("utf-8")
