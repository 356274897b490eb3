"""QLink lab app: the router. Signed out → sign-in; a lab technician's login → the worklist.

Other roles get a plain refusal here, and every core call the page makes checks the role
again (only lab technicians enter results). Run through ``apps/lab/main.py``.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from apps.common import auth, widgets
from apps.common.runtime import runtime

VIEWS = Path(__file__).parent / "views"

st.set_page_config(
    page_title="QLink lab",
    page_icon=":material/biotech:",
    layout="wide",
    initial_sidebar_state="collapsed",
)
widgets.compact_style()
rt = runtime()
staff = auth.resume(rt)

if staff is None:
    sign_in = st.Page(
        lambda: auth.sign_in_page(rt, "QLink lab"), title="Sign in", url_path="sign-in"
    )
    st.navigation([sign_in], position="hidden").run()
    st.stop()

with st.sidebar:
    auth.sidebar(staff)

if staff.actor.role != "lab_technician" or staff.desk is None:
    st.error(
        "This app is for lab technicians: your account is not a lab account. "
        "Doctors order tests and read results in the doctor app."
    )
    st.stop()

pages = [st.Page(VIEWS / "worklist.py", title="Lab worklist", icon=":material/biotech:")]
st.navigation(pages, position="top").run()
