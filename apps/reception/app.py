"""QLink reception app: the router. Signed out → sign-in; signed in → pages the role may use."""

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
    page_title="QLink reception", page_icon=":material/local_hospital:", layout="wide"
)
widgets.compact_style()
rt = runtime()
staff = auth.resume(rt)

if staff is None:
    sign_in = st.Page(lambda: auth.sign_in_page(rt), title="Sign in", url_path="sign-in")
    st.navigation([sign_in], position="hidden").run()
    st.stop()

pages = []
if can(staff.actor, "appointment.read"):
    pages.append(st.Page(VIEWS / "day_board.py", title="Day board", icon=":material/view_week:"))
if can(staff.actor, "patient.search"):
    pages.append(st.Page(VIEWS / "patients.py", title="Patients", icon=":material/search:"))

with st.sidebar:
    if staff.desk is not None:
        st.markdown(f"**{staff.desk.user_name}**  \n{staff.desk.clinic_name}")
    st.caption(f"Signed in as {staff.role_name}")
    auth.sign_out_button(rt)

if not pages or staff.desk is None:
    st.error("This app is for clinic staff at the front desk; your account has no pages here.")
    st.stop()

st.navigation(pages).run()
