"""Sign-in gate for the staff apps: the session secret lives in ``st.session_state``."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from apps.common.runtime import Runtime
from core.auth.users import IDLE_TIMEOUT, authenticate, resume_session, sign_out
from core.clock import system_clock
from core.context import Actor
from core.errors import AuthenticationFailed, DomainError
from core.scheduling.day_view import Desk, desk
from db.engine import ALL_TENANTS

SECRET = "qlink_session_secret"
STAFF = "qlink_staff"
NOTICE = "qlink_signin_notice"
SEEN = "qlink_session_seen_at"
ROLE_NAMES = {
    "clinic_admin": "Clinic admin",
    "receptionist": "Reception",
    "doctor": "Doctor",
    "lab_technician": "Lab",
    "platform_admin": "Platform admin",
}


@dataclass(frozen=True)
class Staff:
    """The signed-in user for this script run: who (actor) and where (desk)."""

    actor: Actor
    desk: Desk | None

    @property
    def role_name(self) -> str:
        return ROLE_NAMES.get(self.actor.role, self.actor.role)


def resume(rt: Runtime) -> Staff | None:
    """Return the signed-in staff member, extending the session; None when signed out."""
    actor = _resume_actor(rt)
    if actor is None:
        return None
    staff = Staff(actor, _desk(rt, actor))
    st.session_state[STAFF] = staff
    return staff


def recheck(rt: Runtime, *, touch: bool) -> Staff:
    """Re-validate the session inside a fragment rerun (the router does not run then).

    ``touch=True`` is for user actions: the session is resumed and extended. An automatic
    refresh passes ``touch=False`` so it never keeps an idle session alive; once the idle
    timeout has passed since the last action it reruns the whole app, which signs out.
    """
    if touch:
        if _resume_actor(rt) is None:
            st.rerun(scope="app")
    else:
        seen = st.session_state.get(SEEN)
        if seen is None or system_clock() - seen >= IDLE_TIMEOUT:
            st.rerun(scope="app")
    return current()


def current() -> Staff:
    """Return the staff member the router resumed in this run (pages call this first)."""
    staff = st.session_state.get(STAFF)
    if not isinstance(staff, Staff):
        st.warning("Please sign in.")
        st.stop()
    return staff


def sign_in_page(rt: Runtime) -> None:
    """Render the sign-in form; on success remember the session and rerun into the app."""
    _, middle, _ = st.columns([1, 1.2, 1])
    with middle:
        st.title("QLink reception")
        notice = st.session_state.pop(NOTICE, None)
        if notice:
            st.warning(notice)
        with st.form("sign_in"):
            username = st.text_input("Username", key="signin_username", autocomplete="username")
            password = st.text_input(
                "Password", type="password", key="signin_password", autocomplete="current-password"
            )
            clinic = st.text_input(
                "Clinic (optional)",
                key="signin_clinic",
                help="Your clinic's short name; needed only if your username exists in several.",
            )
            submitted = st.form_submit_button("Sign in", key="signin_submit", type="primary")
    if submitted:
        with middle:
            _sign_in(rt, username or "", password or "", (clinic or "").strip() or None)


def sign_out_button(rt: Runtime) -> None:
    """Render the sign-out button; a click ends the session server-side too."""
    if st.button("Sign out", key="sign_out", icon=":material/logout:", width="stretch"):
        secret = st.session_state.get(SECRET)
        if secret:
            with rt.db.transaction(ALL_TENANTS) as session:
                sign_out(session, secret, now=system_clock())
        forget()
        st.session_state[NOTICE] = "You have signed out."
        st.rerun()


def forget() -> None:
    """Drop the session and everything pages remembered for it (keys prefixed ``qlink_``)."""
    for key in [k for k in st.session_state if str(k).startswith("qlink_")]:
        st.session_state.pop(key, None)


def _sign_in(rt: Runtime, username: str, password: str, clinic: str | None) -> None:
    if not username.strip() or not password:
        st.error("Enter your username and password.")
        return
    # The failure count is written too, so the transaction commits whatever the outcome.
    with rt.db.transaction(ALL_TENANTS) as session:
        attempt = authenticate(
            session, username=username, password=password, clinic=clinic, now=system_clock()
        )
    if attempt.error is not None or attempt.secret is None:
        st.error(attempt.error.message if attempt.error else "Sign-in failed")
        return
    st.session_state[SECRET] = attempt.secret
    st.rerun()


def _resume_actor(rt: Runtime) -> Actor | None:
    secret = st.session_state.get(SECRET)
    if not secret:
        return None
    try:
        with rt.db.transaction(ALL_TENANTS) as session:
            actor = resume_session(session, secret, now=system_clock())
    except AuthenticationFailed as exc:
        forget()
        st.session_state[NOTICE] = exc.message
        return None
    st.session_state[SEEN] = system_clock()
    return actor


def _desk(rt: Runtime, actor: Actor) -> Desk | None:
    if actor.tenant_id is None:
        return None  # platform staff have no clinic desk
    try:
        with rt.db.transaction(actor.tenant_id, readonly=True) as session:
            return desk(session, actor)
    except DomainError as exc:
        st.error(exc.message)
        return None
