"""QLink owner's console: the router. Clinic admins and the platform admin only.

A clinic admin gets the KPIs, the drill-downs, the audit viewer and system health of their
clinic; the platform admin (no clinic) gets the platform audit chain and system health. Every
core call checks the role again. Run through ``apps/admin_bi/main.py``.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from apps.admin_bi import kit
from apps.common import auth, widgets
from apps.common.runtime import runtime

VIEWS = Path(__file__).parent / "views"
ROLES = ("clinic_admin", "platform_admin")
PLATFORM_PAGES = {"audit", "health", "plans"}  # the platform admin has no clinic KPIs

st.set_page_config(
    page_title="QLink owner's console",
    page_icon=":material/monitoring:",
    layout="wide",
    initial_sidebar_state="expanded",
)
widgets.compact_style()
kit.console_style()
rt = runtime()
staff = auth.resume(rt)

if staff is None:
    sign_in = st.Page(lambda: auth.sign_in_page(rt), title="Sign in", url_path="sign-in")
    st.navigation([sign_in], position="hidden").run()
    st.stop()

with st.sidebar:
    kit.sidebar(staff)

if staff.actor.role not in ROLES:
    st.error(
        "This console is for the clinic's owner and admins: your account is not an admin "
        "account. Reception, doctors and the lab use their own apps."
    )
    st.stop()

# One line per page; url paths are stable links (the platform admin sees PLATFORM_PAGES only).
pages = [
    st.Page(VIEWS / "overview.py", title="Overview", icon=":material/dashboard:", default=True),
    st.Page(VIEWS / "doctors.py", title="Doctors", icon=":material/stethoscope:"),
    st.Page(VIEWS / "revenue.py", title="Revenue", icon=":material/payments:"),
    st.Page(VIEWS / "lab.py", title="Lab", icon=":material/biotech:"),
    st.Page(VIEWS / "ewt.py", title="Wait estimates", icon=":material/timer:"),
    st.Page(VIEWS / "ratings.py", title="Ratings", icon=":material/star:"),
    st.Page(VIEWS / "slots.py", title="Popular slots", icon=":material/event_available:"),
    st.Page(VIEWS / "case_mix.py", title="Case mix", icon=":material/diagnosis:"),
    st.Page(VIEWS / "audit.py", title="Audit log", icon=":material/policy:"),
    st.Page(VIEWS / "health.py", title="System health", icon=":material/monitor_heart:"),
    st.Page(VIEWS / "config_clinic.py", title="Clinic set-up", icon=":material/settings:"),
    st.Page(VIEWS / "config_doctors.py", title="Doctors and hours", icon=":material/schedule:"),
    st.Page(VIEWS / "config_screens.py", title="TV announcements", icon=":material/tv:"),
    st.Page(VIEWS / "config_messages.py", title="Messages", icon=":material/chat:"),
    st.Page(VIEWS / "config_booking.py", title="Online booking", icon=":material/language:"),
    st.Page(VIEWS / "config_users.py", title="Users and roles", icon=":material/group:"),
    st.Page(VIEWS / "plans.py", title="Plan and usage", icon=":material/receipt_long:"),
    st.Page(VIEWS / "privacy.py", title="Privacy (DPDP)", icon=":material/shield_person:"),
]
if staff.actor.tenant_id is None:
    pages = [p for p in pages if p.url_path in PLATFORM_PAGES]
st.navigation(pages, position="sidebar", expanded=True).run()
