"""QLink reception app: the router. Signed out → sign-in; signed in → pages the role may use.

Run through ``apps/reception/main.py`` (the ``st.App`` entry with the sign-in routes).
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from apps.common import auth, widgets
from apps.common.runtime import runtime
from core.auth.permissions import can

# Not "pages/": Streamlit runs a pages/ folder as a v1 multipage app on a process's first
# run (and on every AppTest run), executing the requested page without this router.
VIEWS = Path(__file__).parent / "views"

st.set_page_config(
    page_title="QLink reception",
    page_icon=":material/local_hospital:",
    layout="wide",
    initial_sidebar_state="collapsed",  # the desk needs the width; who and where are on top
)
widgets.compact_style()
rt = runtime()
staff = auth.resume(rt)

if staff is None:
    sign_in = st.Page(lambda: auth.sign_in_page(rt), title="Sign in", url_path="sign-in")
    st.navigation([sign_in], position="hidden").run()
    st.stop()


def allowed(permission: str, view: str, title: str, icon: str) -> list[st.Page]:
    """The page when the role has the permission and the view exists (others add theirs)."""
    if not can(staff.actor, permission) or not (VIEWS / view).exists():
        return []
    return [st.Page(VIEWS / view, title=title, icon=icon)]


pages = [
    *allowed("queue.issue", "desk.py", "Desk", ":material/support_agent:"),
    *allowed("appointment.read", "day_board.py", "Day board", ":material/view_week:"),
    *allowed("appointment.read", "calendar.py", "Calendar", ":material/calendar_month:"),
    *allowed("appointment.book", "requests.py", "Web requests", ":material/travel_explore:"),
    *allowed("patient.search", "patients.py", "Patients", ":material/search:"),
    *allowed("patient.read", "patient.py", "Patient", ":material/person:"),
    *allowed("billing.write", "billing.py", "Billing", ":material/receipt_long:"),
]

with st.sidebar:
    auth.sidebar(staff)

if not pages or staff.desk is None:
    st.error("This app is for clinic staff at the front desk; your account has no pages here.")
    st.stop()

st.navigation(pages, position="top").run()
