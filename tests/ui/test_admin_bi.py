"""The owner's console through AppTest: who may open it, every page and filter, CSV exports,
the audit viewer finding an edited row, system health, and one clinic never seeing another's.

The clinic's finished day is seed 001's (45 booked: 40 completed, 3 cancelled, 2 no-shows) and
the ₹22,500 day, written by the KPI core's own fixtures; the pages read it back through core.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import pytest
from sqlalchemy import text as sql
from streamlit.testing.v1 import AppTest

from core.audit import record
from core.auth.users import authenticate
from core.context import Actor
from db.engine import ALL_TENANTS, Database, make_engine
from db.migrate import upgrade
from qlink.seed.clinics import PLATFORM_ADMIN
from qlink.seed.setup import ensure_platform_admin
from tests.core.test_bi_kpis import DAY, _appointments, _bills, _tokens
from tests.support import Clinic, add_doctor, make_clinic, make_patient
from tests.ui.doctor_support import DATA_KEY, PASSWORD, text

APP = Path(__file__).resolve().parents[2] / "apps" / "admin_bi" / "app.py"
DRILL_DOWNS = ("doctors", "revenue", "lab", "ewt", "ratings", "slots", "case_mix")


@pytest.fixture(scope="module")
def database(tmp_path_factory):
    var = tmp_path_factory.mktemp("admin-ui")
    url = f"sqlite:///{var / 'qlink.db'}"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("QLINK_DATABASE_URL", url)
        env.setenv("QLINK_VAR_DIR", str(var))
        env.setenv("QLINK_DATA_KEY", DATA_KEY)
        for name in ("QLINK_SECRET_KEY", "QLINK_TIMEZONE", "QLINK_PUBLIC_URL"):
            env.delenv(name, raising=False)
        database = Database(make_engine(url))
        upgrade(database.engine)
        yield database
        database.dispose()


@pytest.fixture(scope="module")
def clinic(database) -> Clinic:
    """A clinic with seed 001's day and the ₹22,500 day on ``DAY``."""
    with database.transaction(ALL_TENANTS) as session:
        clinic = make_clinic(session)
        doctors = [
            add_doctor(session, clinic, name=f"Dr. {name}", fee_minor=fee * 100)
            for name, fee in (("One", 500), ("Two", 600), ("Three", 700))
        ]
        _appointments(session, clinic, doctors)
        _bills(session, clinic, doctors)
        _tokens(session, clinic, doctors[0])
        ensure_platform_admin(session, Actor.system(None))
    return clinic


def console(database: Database, username: str, password: str = PASSWORD, **state) -> AppTest:
    with database.transaction(ALL_TENANTS) as session:
        attempt = authenticate(
            session, username=username, password=password, now=dt.datetime.now(dt.UTC)
        )
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["qlink_session_secret"] = attempt.unwrap()[1]
    # The day of the fixtures, through the filter bar's kept values (as if picked before).
    at.session_state["qlink_bi_period"] = "Custom dates"
    at.session_state["qlink_bi_dates"] = (DAY, DAY)
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, at.exception
    return at


def admin(database: Database, clinic: Clinic, **state) -> AppTest:
    return console(database, f"clinic_admin.{clinic.tenant.slug}", **state)


def csv_rows(at: AppTest, column: str) -> list[dict[str, str]]:
    """The rows, parsed back from CSV, of the first shown table with ``column`` (its CSV button
    downloads exactly ``to_csv`` of that table)."""
    frames = [d.value for d in at.dataframe if column in d.value.columns]
    assert frames, [list(d.value.columns) for d in at.dataframe]
    return list(csv.DictReader(io.StringIO(frames[0].to_csv(index=False))))


def csv_buttons(at: AppTest) -> list[str]:
    return [b.id for b in at.get("download_button") if b.proto.label == "Download CSV"]


def test_only_admins_open_the_console(database, clinic):
    for role in ("receptionist", "lab_technician"):
        at = console(database, f"{role}.{clinic.tenant.slug}")
        assert "This console is for the clinic's owner and admins" in text(at)
        assert not at.metric


def test_overview_shows_the_days_numbers_first(database, clinic):
    at = admin(database, clinic)
    assert not at.error, [e.value for e in at.error]
    tiles = {m.label: m.value for m in at.metric}
    assert tiles["Appointments"] == "40 of 45"
    assert tiles["Cancelled"] == "3" and tiles["No-shows"] == "2"
    assert tiles["Patients"] == "3"  # the day's tokens (three walk-ins)
    assert tiles["Collected"] == "₹22,500"
    assert tiles["Average wait"] == "20 min"
    page = text(at)
    for question in (
        "How did Friday 20 Nov go?",
        "Did more or fewer patients come than on the same weekday in recent weeks?",
        "When do patients wait longest (weekday × hour they arrived)?",
        "When do patients arrive, and how busy will tomorrow be?",
        "Which doctor's patients brought in how much?",
        "Which upcoming patients should the desk call to confirm?",
    ):
        assert question in page
    assert "cash 67% · card 20% · UPI 13%" in page
    assert len(at.get("plotly_chart")) >= 4


def test_the_daily_report_pdf_is_prepared_then_downloaded(database, clinic):
    at = admin(database, clinic)
    at.button(key="make_daily").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    pdf = at.session_state[f"qlink_bi_pdf_daily_{DAY}_None_None_None"]
    assert bytes(pdf).startswith(b"%PDF")
    labels = [b.proto.label for b in at.get("download_button")]
    assert "Download daily PDF" in labels and "Download weekly PDF" not in labels


@pytest.mark.parametrize("view", DRILL_DOWNS)
def test_every_drill_down_renders_its_question_and_a_csv(database, clinic, view):
    at = admin(database, clinic)
    at.switch_page(f"views/{view}.py").run()
    assert not at.exception and not at.error, (at.exception, [e.value for e in at.error])
    page = text(at)
    assert "?" in page  # each table answers a question written above it
    # Every table shown has its CSV button (the fixtures have no lab orders or diagnoses).
    assert len(csv_buttons(at)) == len(at.dataframe)
    assert at.dataframe or "Nothing in this period." in page


def test_revenue_csv_is_the_22500_day_and_the_doctor_filter_narrows_it(database, clinic):
    at = admin(database, clinic)
    at.switch_page("views/revenue.py").run()
    rows = csv_rows(at, "Bills")
    assert {r["Doctor"]: float(r["Total ₹"]) for r in rows} == {
        "Dr. One": 9700.0,  # 15 × ₹500 and two procedures of ₹1,100
        "Dr. Two": 7200.0,
        "Dr. Three": 5600.0,
    }
    doctor = at.selectbox(key="qlink_biw_revenue_doctor")
    doctor.select_index(doctor.options.index("Dr. One")).run()
    assert [r["Doctor"] for r in csv_rows(at, "Bills")] == ["Dr. One"]
    by_day = csv_rows(at, "Day")
    assert [float(by_day[0]["Total ₹"])] == [9700.0]


def test_branch_department_and_doctor_filters_narrow_the_tiles(database, clinic):
    at = admin(database, clinic)
    branch = at.selectbox(key="qlink_biw_overview_branch")
    assert branch.options[0] == "All branches" and len(branch.options) == 2
    branch.select_index(1).run()
    department = at.selectbox(key="qlink_biw_overview_department")
    department.select_index(1).run()
    doctor = at.selectbox(key="qlink_biw_overview_doctor")
    assert "Dr. One" in doctor.options
    doctor.select_index(doctor.options.index("Dr. One")).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    tiles = {m.label: m.value for m in at.metric}
    assert tiles["Appointments"] == "20 of 23"  # Dr. One's: every other of the 45
    period = at.selectbox(key="qlink_biw_overview_period")
    period.set_value("Last 7 days").run()
    assert not at.exception and not at.error


def test_another_clinics_admin_sees_none_of_it(database, clinic):
    with database.transaction(ALL_TENANTS) as session:
        other = make_clinic(session)
    at = admin(database, other)
    assert not at.error, [e.value for e in at.error]
    tiles = {m.label: m.value for m in at.metric}
    assert (tiles["Appointments"], tiles["Collected"]) == ("0 of 0", "₹0")
    # The first clinic's doctor is not offered, and a kept id of it is refused as not found.
    assert "Dr. One" not in at.selectbox(key="qlink_biw_overview_doctor").options
    at = admin(database, other, qlink_bi_branch=clinic.branch.id)
    assert "Dr. One" not in text(at)


def test_the_audit_viewer_filters_and_finds_an_edited_row(database, clinic):
    with database.transaction(clinic.tenant_id) as session:
        patients = [make_patient(session, clinic, f"PATAUD{n}").id for n in range(3)]
        for patient in patients:
            record(session, clinic.admin, "patient.read", entity="patient", entity_id=patient)
    at = admin(database, clinic)
    at.switch_page("views/audit.py").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    at.button(key="verify_chain").click().run()
    assert any("Intact" in s.value for s in at.success)
    at.number_input(key="audit_patient").set_value(patients[1]).run()
    assert "1 entries" in text(at)
    seq = _seq_of(database, clinic, str(patients[1]))
    _tamper(database, clinic, seq)
    at.button(key="verify_chain").click().run()
    errors = [e.value for e in at.error]
    assert errors and f"Broken at entry {seq}" in errors[0]
    assert "its contents were changed after it was written" in errors[0]
    assert f"Entries up to {seq - 1} are intact" in errors[0]


def _seq_of(database: Database, clinic: Clinic, entity_id: str) -> int:
    with database.transaction(ALL_TENANTS, readonly=True) as session:
        return int(
            session.execute(
                sql("SELECT seq FROM audit_log WHERE chain = :c AND entity_id = :e"),
                {"c": f"t:{clinic.tenant_id}", "e": entity_id},
            ).scalar_one()
        )


def _tamper(database: Database, clinic: Clinic, seq: int) -> None:
    """Edit a row behind the application's back (the triggers that forbid it dropped first)."""
    with database.engine.begin() as conn:
        triggers = conn.execute(
            sql("SELECT name, sql FROM sqlite_master WHERE type='trigger' AND tbl_name='audit_log'")
        ).all()
        for name, _ in triggers:
            conn.execute(sql(f'DROP TRIGGER "{name}"'))
        conn.execute(
            sql("UPDATE audit_log SET entity_id = '999' WHERE chain = :c AND seq = :s"),
            {"c": f"t:{clinic.tenant_id}", "s": seq},
        )
        for _, create in triggers:
            conn.execute(sql(create))


def test_system_health_shows_the_clinics_figures(database, clinic):
    at = admin(database, clinic)
    at.switch_page("views/health.py").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    labels = {m.label for m in at.metric}
    assert {"Messages delivered", "Patients waiting", "Database p95", "Outbox backlog"} <= labels
    assert "Webhook success (all clinics)" not in labels  # platform-wide: the platform admin's


def test_the_platform_admin_gets_audit_and_health_only(database, clinic):
    at = console(database, PLATFORM_ADMIN.username, PLATFORM_ADMIN.password)
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "Audit log · the platform" in text(at)
    at.switch_page("views/health.py").run()
    assert "Webhook success (all clinics)" in {m.label for m in at.metric}
