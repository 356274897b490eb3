"""The reception app's sign-in routes through Starlette's TestClient: cookie, lockout, logout.

The routes are mounted on a bare Starlette app (the same list ``apps/reception/main.py`` hands to
``st.App``) over a migrated SQLite file; users are made through core.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from pathlib import Path

import pytest
from sqlalchemy import select, update
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from apps.common import session_cookie
from apps.common.runtime import Runtime
from apps.common.signin_routes import SignIn, SignInGate
from core.auth.users import MAX_FAILED_LOGINS, resume_session
from core.errors import AuthenticationFailed
from core.patients import PhoneVault
from db.engine import ALL_TENANTS, Database, make_engine
from db.migrate import upgrade
from db.models import User, UserSession
from qlink.settings import Settings
from tests.support import make_clinic

PASSWORD = "correct-horse-1"
KEY = "signin-test-secret-key"


@pytest.fixture(scope="module")
def rt(tmp_path_factory) -> Runtime:
    var = tmp_path_factory.mktemp("signin")
    url = f"sqlite:///{var / 'qlink.db'}"
    env = {"QLINK_DATABASE_URL": url, "QLINK_SECRET_KEY": KEY, "QLINK_DATA_KEY": "k" * 43}
    settings = Settings.from_env(env, var_dir=Path(var))
    database = Database(make_engine(url))
    upgrade(database.engine)
    yield Runtime(settings, database, PhoneVault(settings.data_key))
    database.dispose()


@pytest.fixture
def user(rt) -> str:
    """A fresh receptionist (own clinic) so lockout counts never leak between tests."""
    with rt.db.transaction(ALL_TENANTS) as session:
        clinic = make_clinic(session)
    return clinic.receptionist.label.split(":", 1)[1]


def page(request):  # stands in for Streamlit's index page behind the gate
    return PlainTextResponse("the app")


@pytest.fixture
def client(rt):
    app = Starlette(
        routes=[*SignIn(lambda: rt).routes(), Route("/", page), Route("/desk", page)],
        middleware=[Middleware(SignInGate)],
    )
    with TestClient(app, base_url="http://desk.test", follow_redirects=False) as client:
        yield client


def login(client, username, password=PASSWORD, **extra):
    data = {"username": username, "password": password, "next": "/desk", **extra}
    return client.post("/auth/login", data=data)


def row_of(rt, cookie_value) -> UserSession:
    secret = session_cookie.unseal(KEY, cookie_value)
    digest = hashlib.sha256(secret.encode()).hexdigest()
    with rt.db.transaction(ALL_TENANTS, readonly=True) as session:
        return session.scalar(select(UserSession).where(UserSession.token_hash == digest))


def test_right_password_sets_an_httponly_lax_signed_cookie_and_redirects(rt, client, user):
    response = login(client, user)
    assert response.status_code == 303 and response.headers["location"] == "/desk"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("qlink_sid=") and "HttpOnly" in cookie
    assert "SameSite=lax" in cookie and "Secure" not in cookie and "Max-Age=43200" in cookie
    value = client.cookies["qlink_sid"]
    assert row_of(rt, value).revoked_at is None
    assert client.get("/desk", headers={"accept": "text/html"}).text == "the app"


def test_behind_tls_the_cookie_is_secure(client, user):
    response = client.post(
        "/auth/login",
        data={"username": user, "password": PASSWORD},
        headers={"x-forwarded-proto": "https"},
    )
    assert response.status_code == 303 and "Secure" in response.headers["set-cookie"]


def test_wrong_password_is_refused_without_a_cookie_and_counted(rt, client, user):
    response = login(client, user, "wrong-password")
    assert response.status_code == 401
    assert "Wrong username or password" in response.text and "set-cookie" not in response.headers
    assert f'value="{user}"' in response.text  # the username stays typed in
    with rt.db.transaction(ALL_TENANTS, readonly=True) as session:
        assert session.scalar(select(User.failed_logins).where(User.username == user)) == 1


def test_empty_form_asks_for_both_fields(client):
    response = client.post("/auth/login", data={"username": "", "password": ""})
    assert response.status_code == 400 and "Enter your username and password." in response.text


def test_repeated_failures_lock_the_account_even_for_the_right_password(client, user):
    for _ in range(MAX_FAILED_LOGINS):
        assert login(client, user, "wrong-password").status_code == 401
    response = login(client, user)
    assert response.status_code == 401 and "Account locked" in response.text
    assert "qlink_sid" not in client.cookies


def test_a_tampered_or_foreign_cookie_is_not_a_session(client, user):
    login(client, user)
    value = client.cookies["qlink_sid"]
    issued, secret, mac = value.split(".")
    assert session_cookie.unseal(KEY, value) == secret
    assert session_cookie.unseal(KEY, f"{issued}.{secret[:-1]}x.{mac}") is None
    assert session_cookie.unseal(KEY, f"{int(issued) + 1}.{secret}.{mac}") is None
    assert session_cookie.unseal("another-clinic-key", value) is None
    assert session_cookie.unseal(KEY, secret) is None and session_cookie.unseal(KEY, "") is None


def test_an_old_cookie_expires_and_an_idle_session_cannot_resume(rt, client, user):
    login(client, user)
    value = client.cookies["qlink_sid"]
    later = time.time() + session_cookie.MAX_AGE_SECONDS + 1
    assert session_cookie.unseal(KEY, value, now=later) is None
    secret = session_cookie.unseal(KEY, value)
    with rt.db.transaction(ALL_TENANTS) as session:
        session.execute(
            update(UserSession)
            .where(UserSession.id == row_of(rt, value).id)
            .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
        )
    with (
        rt.db.transaction(ALL_TENANTS) as session,
        pytest.raises(AuthenticationFailed, match="expired"),
    ):
        resume_session(session, secret, now=dt.datetime.now(dt.UTC))


def test_logout_revokes_the_session_and_clears_the_cookie(rt, client, user):
    login(client, user)
    value = client.cookies["qlink_sid"]
    response = client.post("/auth/logout", headers={"origin": "http://desk.test"})
    assert response.status_code == 303 and response.headers["location"] == "/auth/login?bye=1"
    assert 'qlink_sid=""' in response.headers["set-cookie"]
    assert row_of(rt, value).revoked_at is not None
    assert "You have signed out." in client.get("/auth/login?bye=1").text
    with rt.db.transaction(ALL_TENANTS) as session, pytest.raises(AuthenticationFailed):
        resume_session(session, session_cookie.unseal(KEY, value), now=dt.datetime.now(dt.UTC))


def test_signing_in_again_ends_the_session_it_replaces(rt, client, user):
    login(client, user)
    first = client.cookies["qlink_sid"]
    login(client, user)
    assert row_of(rt, first).revoked_at is not None
    assert row_of(rt, client.cookies["qlink_sid"]).revoked_at is None


def test_a_cross_site_post_is_refused(client, user):
    response = client.post(
        "/auth/login",
        data={"username": user, "password": PASSWORD},
        headers={"origin": "https://evil.example"},
    )
    assert response.status_code == 403 and "set-cookie" not in response.headers


def test_the_gate_sends_a_page_load_without_cookie_to_the_form(client):
    response = client.get("/desk", headers={"accept": "text/html"})
    assert response.status_code == 303
    assert response.headers["location"] == "/auth/login?next=%2Fdesk"
    assert client.get("/auth/login").status_code == 200
    assert client.get("/desk", headers={"accept": "application/json"}).text == "the app"


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example", "\\\\evil", "x"])
def test_next_never_leaves_the_site(client, user, target):
    response = client.post(
        "/auth/login", data={"username": user, "password": PASSWORD, "next": target}
    )
    assert response.headers["location"] == "/"
