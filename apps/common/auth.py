"""Sign-in gate for the staff apps.

The session secret arrives in the signed HttpOnly cookie the ``/auth/login`` route sets (so a
reload keeps the desk signed in) and is remembered in ``st.session_state`` for the script's
reruns; tests, which cannot send cookies through AppTest, put a secret there directly.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from apps.common import session_cookie
from apps.common.runtime import Runtime
from apps.common.signin_routes import LOGIN, LOGOUT
from core.auth.users import IDLE_TIMEOUT, resume_session
from core.clock import system_clock
from core.context import Actor
from core.errors import AuthenticationFailed, DomainError
from core.scheduling.day_view import Desk, desk
from db.engine import ALL_TENANTS

SECRET = "qlink_session_secret"
STAFF = "qlink_staff"
NOTICE = "qlink_signin_notice"
SEEN = "qlink_session_seen_at"
BRANCH = "qlink_branch"
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

    @property
    def branch_id(self) -> int | None:
        """The branch this desk works at: the sidebar's choice, else the user's home branch."""
        if self.desk is None or not self.desk.branches:
            return None
        ids = [b.id for b in self.desk.branches]
        chosen = st.session_state.get(BRANCH)
        if chosen in ids:
            return int(chosen)
        return self.desk.home_branch_id if self.desk.home_branch_id in ids else ids[0]

    @property
    def branch_name(self) -> str:
        names = {b.id: b.name for b in self.desk.branches} if self.desk else {}
        return names.get(self.branch_id or 0, "")


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


def sign_in_page(rt: Runtime, app_name: str = "QLink reception") -> None:
    """Show why the desk is signed out and the way to the sign-in form (an HTTP route)."""
    _, middle, _ = st.columns([1, 1.2, 1])
    with middle:
        st.title(app_name)
        notice = st.session_state.pop(NOTICE, None)
        if notice:
            st.warning(notice)
        st.markdown(
            f'<a class="ql-signin" href="{LOGIN}" target="_self">Sign in</a>',
            unsafe_allow_html=True,
        )


def sidebar(staff: Staff) -> None:
    """Render who is signed in, the branch switcher (several branches) and the sign-out link."""
    desk = staff.desk
    if desk is not None:
        st.markdown(f"**{desk.user_name}**  \n{desk.clinic_name}")
        if len(desk.branches) > 1:
            ids = [b.id for b in desk.branches]
            names = {b.id: b.name for b in desk.branches}
            st.session_state[BRANCH] = staff.branch_id
            st.selectbox("Branch", ids, format_func=names.__getitem__, key=BRANCH)
    st.caption(f"Signed in as {staff.role_name}")
    st.markdown(
        f'<a class="ql-signout" href="{LOGOUT}" target="_self">Sign out</a>',
        unsafe_allow_html=True,
    )


def forget() -> None:
    """Drop the session and everything pages remembered for it (keys prefixed ``qlink_``)."""
    for key in [k for k in st.session_state if str(k).startswith("qlink_")]:
        st.session_state.pop(key, None)


def _resume_actor(rt: Runtime) -> Actor | None:
    secret = _cookie_secret(rt) or st.session_state.get(SECRET)
    if not secret:
        return None
    try:
        with rt.db.transaction(ALL_TENANTS) as session:
            actor = resume_session(session, secret, now=system_clock())
    except AuthenticationFailed as exc:
        forget()
        st.session_state[NOTICE] = exc.message
        return None
    st.session_state[SECRET] = secret
    st.session_state[SEEN] = system_clock()
    return actor


def _cookie_secret(rt: Runtime) -> str | None:
    """The session secret of this browser's cookie (None without one, or a forged one)."""
    try:
        value = st.context.cookies.get(session_cookie.COOKIE)
    except (AttributeError, RuntimeError):  # no browser connection (a bare script run)
        return None
    secret = session_cookie.unseal(rt.settings.secret_key, value)
    if value and secret is None:
        st.session_state[NOTICE] = "Your session has expired; please sign in again"
    return secret


def _desk(rt: Runtime, actor: Actor) -> Desk | None:
    if actor.tenant_id is None:
        return None  # platform staff have no clinic desk
    try:
        with rt.db.transaction(actor.tenant_id, readonly=True) as session:
            return desk(session, actor)
    except DomainError as exc:
        st.error(exc.message)
        return None
