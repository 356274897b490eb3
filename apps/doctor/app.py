"""QLink doctor app: the router. Signed out → sign-in; a doctor's login → the consultation room.

Only a user linked to a doctor of the clinic may use it (the role is checked again by every
core call the pages make). Run through ``apps/doctor/main.py`` (sign-in routes beside it).
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from apps.common import auth, widgets
from apps.common.runtime import runtime
from apps.doctor import look

VIEWS = Path(__file__).parent / "views"

st.set_page_config(
    page_title="QLink doctor",
    page_icon=":material/stethoscope:",
    layout="wide",
    initial_sidebar_state="collapsed",  # the room needs the width
)
widgets.compact_style()
look.doctor_style()
rt = runtime()
staff = auth.resume(rt)

if staff is None:
    sign_in = st.Page(
        lambda: auth.sign_in_page(rt, "QLink doctor"), title="Sign in", url_path="sign-in"
    )
    st.navigation([sign_in], position="hidden").run()
    st.stop()

with st.sidebar:
    auth.sidebar(staff)

if staff.actor.role != "doctor" or staff.actor.doctor_id is None or staff.desk is None:
    st.error(
        "This app is for doctors: your account is not a doctor's. "
        "Reception and admin staff use the reception app."
    )
    st.stop()

pages = [st.Page(VIEWS / "room.py", title="Consultation room", icon=":material/stethoscope:")]
st.navigation(pages, position="top").run()
