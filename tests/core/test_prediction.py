"""No-show risk and peak-hour forecasts on a clinic's own history, on both backends."""

from __future__ import annotations

import datetime as dt
import itertools
import random
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event

from core import tenancy
from core.analytics.no_show import (
    appointment_risk,
    evaluate_no_show_model,
    fit_no_show_model,
    no_show_scores,
)
from core.analytics.peaks import peak_hour_forecast
from core.errors import NotFound, PermissionDenied, ValidationFailed
from db.models import Appointment, Doctor, Patient, QueueToken
from tests.support import Clinic, add_doctor, make_patient

KOLKATA = ZoneInfo("Asia/Kolkata")
UNTIL = dt.date(2026, 12, 7)  # a Monday
DAYS = 60
_numbers = itertools.count(1)


def local(day, hour, minute=0, zone=KOLKATA):
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=zone).astimezone(dt.UTC)


def appointment(clinic, doctor, patient, day, slot, *, lead_days, status, visit_type="new"):
    start = local(day, 9) + dt.timedelta(minutes=30 * slot)
    return Appointment(
        tenant_id=clinic.tenant_id,
        branch_id=clinic.branch.id,
        department_id=clinic.department.id,
        doctor_id=doctor.id,
        patient_id=patient.id,
        slot_start=start,
        slot_end=start + dt.timedelta(minutes=30),
        service_date=day,
        visit_type=visit_type,
        status=status,
        created_at=start - dt.timedelta(days=lead_days),
    )


@dataclass
class History:
    doctor: Doctor
    risky: Patient
    safe: Patient
    regulars: list[Patient]


def history(session, clinic: Clinic, *, seed=1, long_lead_no_show=0.4) -> History:
    """60 days: one patient who never comes, one who always does, long leads no-show more."""
    doctor = add_doctor(session, clinic)
    risky, safe = make_patient(session, clinic, "RISKY01"), make_patient(session, clinic, "SAFE01")
    regulars = [make_patient(session, clinic, f"REG{i:03d}") for i in range(12)]
    rng, rows = random.Random(seed), []
    for offset in range(DAYS, 0, -1):
        day = UNTIL - dt.timedelta(days=offset)
        for slot in range(6):
            long_lead = slot % 2 == 1
            if slot == 0 and offset % 4 == 0:
                patient, no_show = risky, True
            else:
                patient = regulars[(offset * 7 + slot) % len(regulars)]
                no_show = rng.random() < (long_lead_no_show if long_lead else 0.03)
            status = "no_show" if no_show else "completed"
            lead = 20 if long_lead else 0.2
            rows.append(
                appointment(clinic, doctor, patient, day, slot, lead_days=lead, status=status)
            )
        if offset % 10 == 0:
            rows.append(
                appointment(clinic, doctor, safe, day, 6, lead_days=0.2, status="completed")
            )
    session.add_all(rows)
    session.flush()
    return History(doctor, risky, safe, regulars)


def schedule_today(session, clinic, h: History):
    """The risky patient booked three weeks ahead, the safe one this morning."""
    risky = appointment(clinic, h.doctor, h.risky, UNTIL, 2, lead_days=21, status="scheduled")
    safe = appointment(clinic, h.doctor, h.safe, UNTIL, 3, lead_days=0.1, status="scheduled")
    session.add_all([risky, safe])
    session.flush()
    return risky, safe


def by_id(risks):
    return {r.appointment_id: r for r in risks}


def test_risky_appointment_scores_higher_and_says_why(session, clinic_a):
    h = history(session, clinic_a)
    risky, safe = schedule_today(session, clinic_a, h)
    risks = by_id(no_show_scores(session, clinic_a.admin, day=UNTIL))
    assert set(risks) == {risky.id, safe.id}
    high, low = risks[risky.id], risks[safe.id]
    assert high.probability > 0.5 > 0.1 > low.probability
    assert high.score.contributions["past_no_shows"] > 0
    assert high.score.reasons[0].startswith("15 past no-shows in 15 visits +")
    assert "booked 21 days ahead" in " ".join(high.score.reasons)
    assert low.score.contributions["past_no_shows"] < 0


def test_past_outcomes_count_only_days_before_the_one_scored(session, clinic_a):
    h = history(session, clinic_a)
    risky, _ = schedule_today(session, clinic_a, h)
    before = appointment_risk(session, clinic_a.admin, appointment_id=risky.id)
    # A no-show recorded later the same day must not feed its own day's score.
    session.add(appointment(clinic_a, h.doctor, h.risky, UNTIL, 0, lead_days=1, status="no_show"))
    session.flush()
    after = appointment_risk(session, clinic_a.admin, appointment_id=risky.id)
    assert after == before
    assert "15 past no-shows in 15 visits" in " ".join(before.score.reasons)


def test_evaluation_measures_the_model_against_the_base_rate(session, clinic_a):
    history(session, clinic_a)
    result = evaluate_no_show_model(session, clinic_a.admin, until=UNTIL, holdout_days=14, days=46)
    assert result.model is not None and result.base_rate is not None
    assert result.held_out == 14 * 6 + 1
    assert result.trained_on + result.held_out == DAYS * 6 + DAYS // 10
    assert result.model.brier <= result.base_rate.brier
    assert result.model.log_loss <= result.base_rate.log_loss
    assert result.model.auc is not None and result.model.auc > 0.7


def test_only_missed_or_attended_appointments_are_outcomes(session, clinic_a):
    h = history(session, clinic_a)
    before = fit_no_show_model(session, clinic_a.admin, until=UNTIL)
    day = UNTIL - dt.timedelta(days=1)
    for slot, status in ((7, "cancelled"), (8, "scheduled"), (9, "checked_in")):
        session.add(appointment(clinic_a, h.doctor, h.safe, day, slot, lead_days=1, status=status))
    session.flush()
    after = fit_no_show_model(session, clinic_a.admin, until=UNTIL)
    assert (after.rows, after.no_shows) == (before.rows + 1, before.no_shows)  # checked in: came


def test_a_clinic_without_history_gets_the_prior_and_an_explanation(session, clinic_a):
    doctor = add_doctor(session, clinic_a)
    patient = make_patient(session, clinic_a)
    session.add(appointment(clinic_a, doctor, patient, UNTIL, 1, lead_days=2, status="scheduled"))
    session.flush()
    model = fit_no_show_model(session, clinic_a.admin, until=UNTIL)
    [risk] = no_show_scores(session, clinic_a.admin, day=UNTIL, model=model)
    assert not model.fitted
    assert risk.probability == pytest.approx(0.10)
    assert risk.score.reasons == (model.note,)
    result = evaluate_no_show_model(session, clinic_a.admin, until=UNTIL)
    assert result.model is None and result.held_out == 0


def test_another_clinics_history_does_not_change_the_model(session, clinic_a, clinic_b):
    history(session, clinic_a)
    alone = fit_no_show_model(session, clinic_a.admin, until=UNTIL)
    history(session, clinic_b, seed=99, long_lead_no_show=0.95)
    assert fit_no_show_model(session, clinic_a.admin, until=UNTIL) == alone
    other = fit_no_show_model(session, clinic_b.admin, until=UNTIL)
    assert other.no_shows > alone.no_shows
    assert (alone.tenant_id, other.tenant_id) == (clinic_a.tenant_id, clinic_b.tenant_id)


def test_outsider_cannot_score_another_clinics_appointments(session, clinic_a, clinic_b):
    h = history(session, clinic_a)
    risky, _ = schedule_today(session, clinic_a, h)
    outsider = clinic_b.admin
    with pytest.raises(NotFound):
        appointment_risk(session, outsider, appointment_id=risky.id)
    with pytest.raises(NotFound):
        no_show_scores(session, outsider, day=UNTIL, branch_id=clinic_a.branch.id)
    assert no_show_scores(session, outsider, day=UNTIL) == []
    model_a = fit_no_show_model(session, clinic_a.admin, until=UNTIL)
    schedule_today(session, clinic_b, history(session, clinic_b))
    with pytest.raises(PermissionDenied):
        no_show_scores(session, outsider, day=UNTIL, model=model_a)


def test_reading_predictions_needs_report_read(session, clinic_a):
    desk, lab = clinic_a.receptionist, clinic_a.lab
    for actor in (desk, lab):
        with pytest.raises(PermissionDenied):
            fit_no_show_model(session, actor, until=UNTIL)
        with pytest.raises(PermissionDenied):
            no_show_scores(session, actor, day=UNTIL)
        with pytest.raises(PermissionDenied):
            evaluate_no_show_model(session, actor, until=UNTIL)
        with pytest.raises(PermissionDenied):
            peak_hour_forecast(session, actor, branch_id=clinic_a.branch.id, day=UNTIL)


@pytest.fixture
def count_queries(db):
    seen = []

    def counter(_conn, _cursor, statement, *_args):
        if "set_config" not in statement:  # RLS scope re-set on SAVEPOINT (db/engine.py)
            seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", counter)
    yield seen
    event.remove(db.engine, "before_cursor_execute", counter)


def test_scoring_queries_do_not_grow_with_appointments(session, clinic_a, count_queries):
    h = history(session, clinic_a)
    schedule_today(session, clinic_a, h)
    model = fit_no_show_model(session, clinic_a.admin, until=UNTIL)
    count_queries.clear()
    no_show_scores(session, clinic_a.admin, day=UNTIL, model=model)
    two = len(count_queries)
    extra = [
        appointment(clinic_a, h.doctor, p, UNTIL, 6 + i, lead_days=3, status="scheduled")
        for i, p in enumerate(h.regulars)
    ]
    session.add_all(extra)
    session.flush()
    count_queries.clear()
    assert len(no_show_scores(session, clinic_a.admin, day=UNTIL, model=model)) == 14
    assert len(count_queries) == two == 2
    count_queries.clear()
    fit_no_show_model(session, clinic_a.admin, until=UNTIL)
    assert len(count_queries) == 1  # the outcomes with each patient's earlier record


# --- Peak hours ---------------------------------------------------------------------------


def tokens(session, clinic, department_id, branch_id, patient, times):
    """Tokens issued at ``times`` (aware datetimes), service day on the given local date."""
    rows = []
    for service_date, issued_at in times:
        n = next(_numbers)
        rows.append(
            QueueToken(
                tenant_id=clinic.tenant_id,
                branch_id=branch_id,
                department_id=department_id,
                patient_id=patient.id,
                service_date=service_date,
                queue_key=f"dept:{department_id}",
                number=n,
                code=f"GEN-{n:03d}",
                kind="walk_in",
                status="done",
                issued_at=issued_at,
            )
        )
    session.add_all(rows)
    session.flush()


def at(day, hour, minute, count, zone=KOLKATA):
    return [(day, local(day, hour, minute, zone))] * count


def test_peak_hour_forecast_in_the_branch_timezone(session, clinic_a, clinic_b):
    patient = make_patient(session, clinic_a)
    week1, week2 = UNTIL - dt.timedelta(weeks=1), UNTIL - dt.timedelta(weeks=2)
    dept, branch = clinic_a.department.id, clinic_a.branch.id
    tokens(
        session,
        clinic_a,
        dept,
        branch,
        patient,
        at(week1, 10, 15, 5)
        + at(week1, 11, 40, 2)
        + at(week1, 0, 20, 1)  # 18:50 UTC the day before: local hour 0
        + at(week2, 10, 5, 1)
        + at(week2, 11, 0, 5)
        + at(UNTIL - dt.timedelta(days=3), 15, 0, 9)  # a Friday
        + at(UNTIL - dt.timedelta(weeks=4), 15, 0, 9),  # beyond the weeks asked for
    )
    outsider = make_patient(session, clinic_b, "OUT001")
    tokens(
        session, clinic_b, clinic_b.department.id, clinic_b.branch.id, outsider, at(week1, 15, 0, 9)
    )
    forecast = peak_hour_forecast(session, clinic_a.admin, branch_id=branch, day=UNTIL, weeks=3)
    hours = {h.hour: h for h in forecast.hours}
    assert forecast.timezone == "Asia/Kolkata"
    assert (forecast.weeks_used, forecast.weeks_considered) == (2, 3)
    assert hours[10].expected == pytest.approx((3 * 5 + 2 * 1) / 5)  # 3.4
    assert hours[11].expected == pytest.approx((3 * 2 + 2 * 5) / 5)  # 3.2
    assert hours[0].expected == pytest.approx(3 / 5)
    assert (hours[10].low, hours[10].high) == (1, 5)
    assert hours[15].expected == hours[4].expected == 0
    assert forecast.peak_hour == 10
    assert "Mondays of the last 3 weeks (2 with tokens)" in forecast.explanation


def test_a_branch_zone_overrides_the_clinic_zone(session, clinic_a):
    new_york = ZoneInfo("America/New_York")
    branch = tenancy.create_branch(
        session, clinic_a.admin, slug="nyc", name="NYC", timezone="America/New_York"
    )
    dept = tenancy.create_department(
        session, clinic_a.admin, branch_id=branch.id, code="NYG", name="General"
    )
    week1 = UNTIL - dt.timedelta(weeks=1)
    patient = make_patient(session, clinic_a)
    times = at(week1, 9, 30, 3, new_york) + at(week1, 14, 0, 1, new_york)
    tokens(session, clinic_a, dept.id, branch.id, patient, times)
    forecast = peak_hour_forecast(session, clinic_a.admin, branch_id=branch.id, day=UNTIL)
    assert forecast.timezone == "America/New_York"
    assert forecast.peak_hour == 9
    assert forecast.hours[9].expected == pytest.approx(3.0)
    assert (forecast.weeks_used, forecast.weeks_considered) == (1, 8)


def test_peak_forecast_without_tokens_and_for_outsiders(session, clinic_a, clinic_b):
    forecast = peak_hour_forecast(session, clinic_a.admin, branch_id=clinic_a.branch.id, day=UNTIL)
    assert forecast.peak_hour is None and forecast.weeks_used == 0
    assert forecast.explanation.startswith("No tokens")
    with pytest.raises(NotFound):
        peak_hour_forecast(session, clinic_b.admin, branch_id=clinic_a.branch.id, day=UNTIL)
    with pytest.raises(ValidationFailed):
        peak_hour_forecast(
            session, clinic_a.admin, branch_id=clinic_a.branch.id, day=UNTIL, weeks=0
        )
