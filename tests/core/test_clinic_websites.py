"""A clinic's websites are one list (``api_origins``): the partner API's CORS and the booking
page's ``frame-ancestors`` read it; migration 0020 moves the old settings origins into it.
Also the console's reads for online booking: branch modes and the doctors' calendar feeds."""

from __future__ import annotations

import datetime as dt

import pytest
from alembic import command
from sqlalchemy import select

from core.errors import PermissionDenied, ValidationFailed
from core.partners.keys import MAX_ORIGINS, add_origin, list_origins, remove_origin
from core.scheduling import calendar_feeds, web_booking
from db.engine import ALL_TENANTS, Database
from db.migrate import alembic_config, upgrade
from db.models import ApiOrigin, AuditEntry, Tenant
from tests.support import add_doctor, make_clinic

NOW = dt.datetime(2026, 12, 1, 4, 0, tzinfo=dt.UTC)


def _actions(session, clinic) -> list[str]:
    return list(
        session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.tenant_id == clinic.tenant_id, AuditEntry.entity == "api_origin")
            .order_by(AuditEntry.id)
        )
    )


def test_a_website_added_once_is_allowed_to_embed_and_to_call(session, clinic_a, clinic_b):
    add_origin(session, clinic_a.admin, origin="https://CityCare.example/")
    slug = clinic_a.tenant.slug
    assert web_booking.public_clinic(session, slug).origins == ("https://citycare.example",)
    assert web_booking.public_clinic(session, clinic_b.tenant.slug).origins == ()
    remove_origin(session, clinic_a.admin, origin="https://citycare.example")
    assert web_booking.public_clinic(session, slug).origins == ()
    assert list_origins(session, clinic_a.admin) == []
    assert _actions(session, clinic_a) == ["api_origin.add", "api_origin.remove"]


def test_a_bad_website_is_refused_with_what_was_typed(session, clinic_a):
    with pytest.raises(ValidationFailed, match=r"'citycare\.example/book' is not a website"):
        add_origin(session, clinic_a.admin, origin="citycare.example/book")
    assert list_origins(session, clinic_a.admin) == []


def test_at_most_twenty_websites(session, clinic_a):
    for n in range(MAX_ORIGINS):
        add_origin(session, clinic_a.admin, origin=f"https://site{n}.example")
    add_origin(session, clinic_a.admin, origin="https://site0.example")  # already there: fine
    with pytest.raises(ValidationFailed, match="At most 20"):
        add_origin(session, clinic_a.admin, origin="https://one-more.example")


def test_only_admins_manage_websites_modes_and_feeds(session, clinic_a):
    desk = clinic_a.receptionist
    doctor = add_doctor(session, clinic_a)
    for call in (
        lambda: add_origin(session, desk, origin="https://x.example"),
        lambda: remove_origin(session, desk, origin="https://x.example"),
        lambda: list_origins(session, desk),
        lambda: web_booking.booking_setup(session, desk),
        lambda: calendar_feeds.list_calendar_feeds(session, desk),
        lambda: calendar_feeds.set_calendar_feed(
            session, desk, doctor_id=doctor.id, url="https://cal.example/a.ics"
        ),
    ):
        with pytest.raises(PermissionDenied):
            call()


def test_the_setup_names_the_page_and_each_branch_mode(session, clinic_a):
    branch = clinic_a.branch.id
    setup = web_booking.booking_setup(session, clinic_a.admin)
    assert setup.slug == clinic_a.tenant.slug
    assert [(b.id, b.mode) for b in setup.branches] == [(branch, "live")]
    web_booking.set_booking_mode(session, clinic_a.admin, branch_id=branch, mode="request")
    setup = web_booking.booking_setup(session, clinic_a.admin)
    assert [(b.id, b.mode) for b in setup.branches] == [(branch, "request")]


def test_feeds_are_https_only_and_listed_with_their_last_read(session, clinic_a):
    doctor = add_doctor(session, clinic_a, name="Dr. Feed")
    for bad in ("http://cal.example/a.ics", "webcal://cal.example/a.ics", "cal.example"):
        with pytest.raises(ValidationFailed, match="https://"):
            calendar_feeds.set_calendar_feed(session, clinic_a.admin, doctor_id=doctor.id, url=bad)
    feed = calendar_feeds.set_calendar_feed(
        session, clinic_a.admin, doctor_id=doctor.id, url="https://cal.example/a.ics"
    )
    assert feed is not None
    calendar_feeds.refresh_feed(
        session, clinic_a.tenant_id, feed.id, content=None, error="HTTP 404", now=NOW
    )
    (listed,) = calendar_feeds.list_calendar_feeds(session, clinic_a.admin)
    assert (listed.doctor_name, listed.url) == ("Dr. Feed", "https://cal.example/a.ics")
    assert (listed.fetched_at, listed.last_error, listed.busy_blocks) == (NOW, "HTTP 404", 0)
    calendar_feeds.set_calendar_feed(session, clinic_a.admin, doctor_id=doctor.id, url=None)
    (listed,) = calendar_feeds.list_calendar_feeds(session, clinic_a.admin)
    assert listed.url is None and listed.fetched_at is None


def _downgrade(engine, revision: str) -> None:
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def _settings_origins(db: Database, tenant_id: int, origins: list[str] | None) -> None:
    with db.transaction(ALL_TENANTS) as s:
        tenant = s.get(Tenant, tenant_id)
        web = {"modes": {"1": "request"}} | ({"origins": origins} if origins is not None else {})
        tenant.settings = {**tenant.settings, "web_booking": web}


def _state(db: Database, tenant_id: int) -> tuple[list[str], dict]:
    with db.transaction(ALL_TENANTS, readonly=True) as s:
        rows = s.scalars(
            select(ApiOrigin.origin)
            .where(ApiOrigin.tenant_id == tenant_id)
            .order_by(ApiOrigin.origin)
        ).all()
        return list(rows), s.get(Tenant, tenant_id).settings["web_booking"]


def test_migration_0020_moves_settings_origins_into_the_one_list(fresh_url):
    db = Database.from_url(fresh_url)
    try:
        upgrade(db.engine, "0019")
        with db.transaction(ALL_TENANTS) as s:
            a, b = make_clinic(s), make_clinic(s)
            add_origin(s, a.admin, origin="https://api.citycare.example")
            ids = a.tenant_id, b.tenant_id
        old = ["HTTPS://Www.CityCare.example/", "https://api.citycare.example", "not a site"]
        _settings_origins(db, ids[0], old)
        _settings_origins(db, ids[1], None)

        upgrade(db.engine, "0020")
        moved = ["https://api.citycare.example", "https://www.citycare.example"]
        assert _state(db, ids[0]) == (moved, {"modes": {"1": "request"}})
        assert _state(db, ids[1]) == ([], {"modes": {"1": "request"}})

        _downgrade(db.engine, "0019")  # the origins are back in the settings, rows kept
        assert _state(db, ids[0]) == (moved, {"modes": {"1": "request"}, "origins": moved})
        upgrade(db.engine, "0020")  # run again over rows it already moved: no duplicate
        assert _state(db, ids[0]) == (moved, {"modes": {"1": "request"}})
    finally:
        db.dispose()
