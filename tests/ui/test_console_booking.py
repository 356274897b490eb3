"""The console's Online booking page through AppTest: each action saves through core (checked
in the database), a bad website is refused with core's message, a new API key is shown once,
and a receptionist does not get the page."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from db.engine import ALL_TENANTS
from db.models import ApiClient, ApiOrigin, AuditEntry, Tenant
from db.models.scheduling import CalendarFeed
from tests.support import Clinic, add_doctor, make_clinic
from tests.ui.test_admin_bi import console, database  # noqa: F401  (module-scoped database)

VIEW = "views/config_booking.py"


@pytest.fixture(scope="module")
def clinic(database) -> Clinic:  # noqa: F811
    with database.transaction(ALL_TENANTS) as session:
        clinic = make_clinic(session)
        add_doctor(session, clinic, name="Dr. Feed")
    return clinic


def page(database, clinic: Clinic):  # noqa: F811
    at = console(database, f"clinic_admin.{clinic.tenant.slug}")
    at.switch_page(VIEW).run()
    assert not at.exception, at.exception
    return at


def ok(at) -> None:
    assert not at.exception and not at.error, (at.exception, [e.value for e in at.error])


def button(at, label: str):
    return next(b for b in at.get("form_submit_button") if b.proto.label == label)


def audited(database, clinic: Clinic) -> list[str]:  # noqa: F811
    with database.transaction(clinic.tenant_id, readonly=True) as s:
        return list(
            s.scalars(select(AuditEntry.action).where(AuditEntry.tenant_id == clinic.tenant_id))
        )


def test_the_page_shows_the_branch_link_and_both_embed_snippets(database, clinic):  # noqa: F811
    at = page(database, clinic)
    ok(at)
    slug, branch = clinic.tenant.slug, clinic.branch.id
    codes = [c.value for c in at.code]
    assert f"http://localhost:8000/book/{slug}?branch={branch}" in codes
    assert any(f'data-clinic="{slug}"' in c and "/book/static/embed.js" in c for c in codes)
    assert any(c.startswith(f'<iframe src="http://localhost:8000/book/{slug}"') for c in codes)


def test_mode_is_saved(database, clinic):  # noqa: F811
    at = page(database, clinic)
    at.radio(key=f"bk_mode_{clinic.branch.id}").set_value("request")
    button(at, "Save modes").click().run()
    ok(at)
    assert any("takes requests" in s.value for s in at.success)
    with database.transaction(clinic.tenant_id, readonly=True) as s:
        modes = s.get(Tenant, clinic.tenant_id).settings["web_booking"]["modes"]
    assert modes == {str(clinic.branch.id): "request"}


def test_a_website_is_added_a_bad_one_refused_and_removed(database, clinic):  # noqa: F811
    at = page(database, clinic)
    at.text_input(key="bk_origin").set_value("www.citycare.example/book")
    button(at, "Add website").click().run()
    assert any("is not a website address" in e.value for e in at.error)
    at.text_input(key="bk_origin").set_value("https://www.CityCare.example/")
    button(at, "Add website").click().run()
    ok(at)
    assert "`https://www.citycare.example`" in [m.value for m in at.markdown]
    with database.transaction(clinic.tenant_id, readonly=True) as s:
        origins = s.scalars(select(ApiOrigin.origin).where(ApiOrigin.tenant_id == clinic.tenant_id))
        assert list(origins) == ["https://www.citycare.example"]
    at.button(key="bk_rm_https://www.citycare.example").click().run()
    ok(at)
    with database.transaction(clinic.tenant_id, readonly=True) as s:
        assert not s.scalars(
            select(ApiOrigin.origin).where(ApiOrigin.tenant_id == clinic.tenant_id)
        ).all()
    assert {"api_origin.add", "api_origin.remove"} <= set(audited(database, clinic))


def test_a_calendar_feed_is_refused_over_http_then_set_and_removed(database, clinic):  # noqa: F811
    at = page(database, clinic)
    at.text_input(key="bk_feed_url").set_value("http://cal.example/dr.ics")
    button(at, "Save calendar").click().run()
    assert any("https://" in e.value for e in at.error)
    at.text_input(key="bk_feed_url").set_value("https://cal.example/private/abc123/dr.ics")
    button(at, "Save calendar").click().run()
    ok(at)
    shown = at.dataframe[0].value
    assert list(shown["Calendar"]) == ["https://cal.example/…/dr.ics"]  # the secret part hidden
    with database.transaction(clinic.tenant_id, readonly=True) as s:
        assert s.scalar(select(CalendarFeed.url).where(CalendarFeed.tenant_id == clinic.tenant_id))
    button(at, "Remove calendar").click().run()
    ok(at)
    with database.transaction(clinic.tenant_id, readonly=True) as s:
        assert (
            s.scalar(select(CalendarFeed.id).where(CalendarFeed.tenant_id == clinic.tenant_id))
            is None
        )


def test_a_key_is_shown_once_and_revoked_only_when_confirmed(database, clinic):  # noqa: F811
    at = page(database, clinic)
    at.text_input(key="bk_client_name").set_value("City website")
    button(at, "Create key").click().run()
    ok(at)
    key = next(c.value for c in at.code if c.value.startswith("qlk_"))
    assert any("shown only this once" in w.value for w in at.warning)
    at.run()
    assert not [c for c in at.code if c.value.startswith("qlk_")]  # gone on the next run
    with database.transaction(clinic.tenant_id, readonly=True) as s:
        client = s.scalar(select(ApiClient).where(ApiClient.tenant_id == clinic.tenant_id))
        assert client.name == "City website" and key.split("_")[2] == str(client.id)
        assert key.rsplit("_", 1)[1] not in client.secret_hash
    button(at, "Revoke key").click().run()
    assert any("Tick" in e.value for e in at.error)
    at.checkbox(key="bk_revoke_sure").check()
    button(at, "Revoke key").click().run()
    ok(at)
    with database.transaction(clinic.tenant_id, readonly=True) as s:
        assert s.scalar(select(ApiClient.revoked_at).where(ApiClient.id == client.id))
    assert {"api_client.create", "api_client.revoke"} <= set(audited(database, clinic))


def test_a_receptionist_does_not_get_the_page(database, clinic):  # noqa: F811
    at = console(database, f"receptionist.{clinic.tenant.slug}")
    assert any("not an admin account" in e.value for e in at.error)
    assert not [c for c in at.code if "/book/" in c.value]
