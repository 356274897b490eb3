"""The owner's configuration commands: every change audited, refused to other roles."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from core import clinic_config, tenancy
from core.auth import staff, users
from core.errors import NotFound, PermissionDenied, ValidationFailed
from core.messaging import retention, templates
from core.scheduling import doctors, roster
from core.signage import announcements, branches, feed
from core.signage.deltas import render_updates
from db.models import AuditEntry, User
from tests.support import add_doctor

NOW = dt.datetime(2026, 12, 7, 4, 0, tzinfo=dt.UTC)


def actions(session, clinic) -> list[str]:
    return list(
        session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.tenant_id == clinic.tenant_id)
            .order_by(AuditEntry.seq)
        )
    )


def test_admin_edits_branch_and_department_and_lists_them(session, clinic_a):
    clinic_config.edit_branch(
        session, clinic_a.admin, branch_id=clinic_a.branch.id, name="Main", address="MG Road"
    )
    clinic_config.edit_department(
        session, clinic_a.admin, department_id=clinic_a.department.id, name="General OPD"
    )
    (branch,) = clinic_config.clinic_structure(session, clinic_a.admin)
    assert (branch.name, branch.address) == ("Main", "MG Road")
    assert [(d.code, d.name) for d in branch.departments] == [("GEN", "General OPD")]
    assert actions(session, clinic_a)[-2:] == ["branch.edit", "department.edit"]


def test_receptionist_may_not_configure(session, clinic_a):
    with pytest.raises(PermissionDenied):
        clinic_config.edit_branch(
            session, clinic_a.receptionist, branch_id=clinic_a.branch.id, name="X"
        )
    with pytest.raises(PermissionDenied):
        staff.list_staff(session, clinic_a.receptionist)
    with pytest.raises(PermissionDenied):
        announcements.add_announcement(
            session, clinic_a.receptionist, branch_id=clinic_a.branch.id, body="Hi"
        )
    with pytest.raises(PermissionDenied):
        templates.list_templates(session, clinic_a.receptionist)


def test_queue_knobs_weights_cap_and_ewt_window_round_trip(session, clinic_a):
    tenancy.set_queue_settings(
        session,
        clinic_a.admin,
        settings={"cap_every": 4, "rolling_window": 8, "priority_weights": {"priority": 25}},
    )
    rules = clinic_config.queue_rules(session, clinic_a.admin)
    assert (rules.cap_every, rules.rolling_window, rules.weights["priority"]) == (4, 8, 25)
    with pytest.raises(ValidationFailed):
        tenancy.set_queue_settings(session, clinic_a.admin, settings={"rolling_window": 0})


def test_retention_period_is_set_audited_and_validated(session, clinic_a):
    assert clinic_config.retention_days(session, clinic_a.admin) == retention.DEFAULT_DAYS
    clinic_config.set_retention_days(session, clinic_a.admin, days=90)
    assert clinic_config.retention_days(session, clinic_a.admin) == 90
    assert clinic_a.tenant.settings[retention.SETTING] == 90
    for bad in (0, 4000, True):
        with pytest.raises(ValidationFailed):
            clinic_config.set_retention_days(session, clinic_a.admin, days=bad)
    assert actions(session, clinic_a)[-1] == "retention.set"


def test_templates_are_saved_per_language_and_replaced_in_place(session, clinic_a):
    for lang, body in (("en", "Your token is {{1}}"), ("hi", "आपका टोकन {{1}} है")):
        templates.save_template(
            session,
            clinic_a.admin,
            name="token_issued",
            language=lang,
            category="utility",
            body=body,
        )
    templates.save_template(
        session,
        clinic_a.admin,
        name="token_issued",
        language="en",
        category="utility",
        body="Token {{1}}",
        status="approved",
    )
    rows = templates.list_templates(session, clinic_a.admin)
    assert [(r.language, r.body, r.status) for r in rows] == [
        ("en", "Token {{1}}", "approved"),
        ("hi", "आपका टोकन {{1}} है", "pending"),
    ]
    with pytest.raises(ValidationFailed):
        templates.save_template(
            session, clinic_a.admin, name="Bad Name", language="en", category="utility", body="x"
        )
    assert actions(session, clinic_a)[-3:] == [
        "template.create",
        "template.create",
        "template.edit",
    ]


def test_doctor_edit_hours_and_leaves_are_listed(session, clinic_a):
    doctor = add_doctor(session, clinic_a)
    roster.edit_doctor(
        session,
        clinic_a.admin,
        doctor_id=doctor.id,
        full_name="Dr. Asha Rao",
        specialization="Ortho",
        fee_minor=60000,
    )
    doctors.add_leave(
        session,
        clinic_a.admin,
        doctor_id=doctor.id,
        start_date=dt.date(2026, 12, 24),
        end_date=dt.date(2026, 12, 26),
        reason="Christmas",
    )
    (row,) = roster.list_doctors(session, clinic_a.admin)
    assert (row.fee_minor, row.specialization) == (60000, "Ortho")
    hours = roster.doctor_hours(session, clinic_a.admin, doctor_id=doctor.id)
    assert sorted({h.weekday for h in hours}) == [0, 1, 2, 3, 4]
    (leave,) = roster.doctor_leaves(
        session, clinic_a.admin, doctor_id=doctor.id, since=dt.date(2026, 12, 1)
    )
    assert leave.reason == "Christmas"
    assert "doctor.edit" in actions(session, clinic_a)


def test_admin_disables_resets_and_unlocks_a_user(session, clinic_a):
    desk = session.get(User, clinic_a.receptionist.user_id)
    for _ in range(users.MAX_FAILED_LOGINS):
        users.authenticate(session, username=desk.username, password="wrong", now=NOW)
    locked = {r.id: r for r in staff.list_staff(session, clinic_a.admin)}[desk.id]
    assert locked.locked
    assert not staff.unlock_user(session, clinic_a.admin, user_id=desk.id).locked
    staff.reset_password(session, clinic_a.admin, user_id=desk.id, new_password="new-secret-123")
    ok = users.authenticate(session, username=desk.username, password="new-secret-123", now=NOW)
    _, secret = ok.unwrap()
    staff.set_user_active(session, clinic_a.admin, user_id=desk.id, active=False)
    with pytest.raises(Exception, match="expired"):
        users.resume_session(session, secret, now=NOW)
    refused = users.authenticate(
        session, username=desk.username, password="new-secret-123", now=NOW
    )
    assert refused.error is not None
    with pytest.raises(ValidationFailed):
        staff.reset_password(session, clinic_a.admin, user_id=desk.id, new_password="short")
    with pytest.raises(ValidationFailed):
        staff.set_user_active(session, clinic_a.admin, user_id=clinic_a.admin.user_id, active=False)
    assert {"user.unlock", "user.password_reset", "user.disable"} <= set(actions(session, clinic_a))


def test_announcement_change_appends_an_event_carrying_the_new_list(session, clinic_a):
    added = announcements.add_announcement(
        session, clinic_a.admin, branch_id=clinic_a.branch.id, body="Lab opens at 8", language="en"
    )
    ref = branches.branch_ref(session, clinic_a.tenant_id, clinic_a.branch.id)
    events = feed.branch_events(session, clinic_a.tenant_id, clinic_a.branch.id, after=0)
    (update,) = [u for u in render_updates(session, clinic_a.admin, ref, events)]
    assert update.type == "AnnouncementsChanged"
    assert [n.body for n in update.notices or ()] == ["Lab opens at 8"]
    assert update.touches(frozenset({-1}))  # every screen of the branch, whatever it filters
    listed = announcements.list_announcements(session, clinic_a.admin, branch_id=clinic_a.branch.id)
    assert [a.id for a in listed] == [added.id]
    with pytest.raises(ValidationFailed):
        announcements.add_announcement(
            session, clinic_a.admin, branch_id=clinic_a.branch.id, body=" "
        )
    assert actions(session, clinic_a)[-1] == "announcement.add"


def test_outsider_cannot_edit_another_clinics_rows(session, clinic_a, clinic_b):
    with pytest.raises(NotFound):
        clinic_config.edit_branch(session, clinic_b.admin, branch_id=clinic_a.branch.id, name="X")
    with pytest.raises(NotFound):
        staff.unlock_user(session, clinic_b.admin, user_id=clinic_a.receptionist.user_id)
