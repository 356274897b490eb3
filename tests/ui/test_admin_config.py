"""The console's configuration, plan and DPDP pages through AppTest: each renders, saves through
core (checked in the database afterwards), refuses bad input with core's message, and the
platform admin's plan page suspends a clinic."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from core.context import Actor
from core.plans import catalogue
from core.privacy import breaches
from db.engine import ALL_TENANTS
from db.models import Announcement, Department, Doctor, MessageTemplate, Tenant, User
from qlink.seed.clinics import PLATFORM_ADMIN
from qlink.seed.setup import ensure_platform_admin
from tests.support import Clinic, add_doctor, make_clinic
from tests.ui.doctor_support import text
from tests.ui.test_admin_bi import console, database  # noqa: F401  (module-scoped database)

PAGES = (
    "config_clinic",
    "config_doctors",
    "config_screens",
    "config_messages",
    "config_users",
    "plans",
    "privacy",
)


@pytest.fixture(scope="module")
def clinic(database) -> Clinic:  # noqa: F811
    with database.transaction(ALL_TENANTS) as session:
        clinic = make_clinic(session)
        add_doctor(session, clinic, name="Dr. Config")
        ensure_platform_admin(session, Actor.system(None))
        catalogue.ensure_plans(session, Actor.system(None))
    return clinic


def page(database, clinic: Clinic, view: str):  # noqa: F811
    at = console(database, f"clinic_admin.{clinic.tenant.slug}")
    at.switch_page(f"views/{view}.py").run()
    assert not at.exception, at.exception
    return at


def ok(at) -> None:
    assert not at.exception and not at.error, (at.exception, [e.value for e in at.error])


@pytest.mark.parametrize("view", PAGES)
def test_every_configuration_page_renders(database, clinic, view):  # noqa: F811
    ok(page(database, clinic, view))


def test_department_is_added_and_a_bad_code_is_refused(database, clinic):  # noqa: F811
    at = page(database, clinic, "config_clinic")
    at.text_input(key="cfg_dept_code").set_value("1X")
    at.text_input(key="cfg_dept_name").set_value("Bad")
    at.get("form_submit_button")[1].click().run()  # (edit branch, add department, …)
    assert any("Department code must be" in e.value for e in at.error)
    at.text_input(key="cfg_dept_code").set_value("ORT")
    at.text_input(key="cfg_dept_name").set_value("Orthopaedics")
    at.get("form_submit_button")[1].click().run()
    ok(at)
    with database.transaction(clinic.tenant_id) as s:
        assert s.scalar(select(Department.name).where(Department.code == "ORT")) == "Orthopaedics"


def test_queue_cap_and_window_are_saved(database, clinic):  # noqa: F811
    at = page(database, clinic, "config_clinic")
    at.number_input(key="cfg_cap").set_value(5)
    at.number_input(key="cfg_window").set_value(9)
    at.number_input(key="cfg_w_vip").set_value(40)
    next(b for b in at.get("form_submit_button") if b.proto.label == "Save queue rules").click()
    at.run()
    ok(at)
    with database.transaction(clinic.tenant_id) as s:
        settings = s.get(Tenant, clinic.tenant_id).settings
    assert (settings["cap_every"], settings["rolling_window"]) == (5, 9)
    assert settings["priority_weights"]["vip"] == 40


def test_announcement_added_from_the_page(database, clinic):  # noqa: F811
    at = page(database, clinic, "config_screens")
    at.text_input(key="ann_body").set_value("Lab opens at 8 am")
    at.get("form_submit_button")[0].click().run()
    ok(at)
    assert any("sent to the screens" in s.value for s in at.success)
    with database.transaction(clinic.tenant_id) as s:
        assert s.scalar(select(Announcement.body)) == "Lab opens at 8 am"


def test_template_and_retention_saved(database, clinic):  # noqa: F811
    at = page(database, clinic, "config_messages")
    at.text_input(key="tpl_name").set_value("token_issued")
    at.selectbox(key="tpl_lang").set_value("hi")
    at.text_area(key="tpl_body").set_value("आपका टोकन {{1}} है")
    at.get("form_submit_button")[0].click().run()
    ok(at)
    at.number_input(key="ret_days").set_value(60)
    at.get("form_submit_button")[1].click().run()
    ok(at)
    with database.transaction(clinic.tenant_id) as s:
        assert s.scalar(select(MessageTemplate.language)) == "hi"
        assert s.get(Tenant, clinic.tenant_id).settings["message_retention_days"] == 60


def test_user_is_created_and_disabled(database, clinic):  # noqa: F811
    at = page(database, clinic, "config_users")
    at.text_input(key="usr_new_username").set_value("desk2")
    at.text_input(key="usr_new_name").set_value("Second Desk")
    at.text_input(key="usr_new_pw").set_value("long-password-1")
    at.get("form_submit_button")[0].click().run()
    ok(at)
    at = page(database, clinic, "config_users")
    pick = at.selectbox(key="usr_pick")
    pick.set_value(next(o for o in pick.options if o == "desk2") and _user_id(database, "desk2"))
    at.run()
    at.button(key="usr_disable").click().run()
    ok(at)
    with database.transaction(clinic.tenant_id) as s:
        assert s.scalar(select(User.active).where(User.username == "desk2")) is False


def _user_id(database, username: str) -> int:  # noqa: F811
    with database.transaction(ALL_TENANTS) as s:
        return s.scalar(select(User.id).where(User.username == username))


def test_doctor_leave_added(database, clinic):  # noqa: F811
    at = page(database, clinic, "config_doctors")
    ok(at)
    assert "Dr. Config" in [d for d in at.dataframe[0].value["Doctor"]]
    at.text_input(key="leave_reason").set_value("Conference")
    next(b for b in at.get("form_submit_button") if b.proto.label == "Add leave").click()
    at.run()
    ok(at)
    assert any("Leave added" in s.value for s in at.success)
    with database.transaction(clinic.tenant_id) as s:
        assert s.scalar(select(Doctor.full_name)) == "Dr. Config"


def test_privacy_page_says_what_is_kept_and_lists_breaches(database, clinic):  # noqa: F811
    with database.transaction(clinic.tenant_id) as s:
        breaches.record_breach(
            s,
            clinic.admin,
            detected_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1),
            description="Day list printed and lost",
            affected_count=12,
        )
    at = page(database, clinic, "privacy")
    ok(at)
    assert "Day list printed and lost" in list(at.dataframe[0].value["What happened"])
    assert "No message text has been old enough to purge yet." in text(at)


def test_clinic_admin_sees_own_plan_and_platform_admin_suspends(database, clinic):  # noqa: F811
    at = console(database, PLATFORM_ADMIN.username, PLATFORM_ADMIN.password)
    at.switch_page("views/plans.py").run()
    ok(at)
    at.selectbox(key="plan_clinic").set_value(clinic.tenant_id).run()
    at.selectbox(key="plan_code").set_value("starter")
    at.get("form_submit_button")[0].click().run()
    ok(at)
    at.text_input(key="plan_reason").set_value("unpaid")
    at.get("form_submit_button")[1].click().run()
    assert not at.exception  # the drill-down below now shows the suspension in red
    assert any("Suspended" in s.value for s in at.success)
    mine = page(database, clinic, "plans")
    assert "plan **Starter**" in text(mine) and "Suspended:" in text(mine)
    at.get("form_submit_button")[2].click().run()  # resume
    with database.transaction(ALL_TENANTS) as s:
        assert s.get(Tenant, clinic.tenant_id).status == "active"
