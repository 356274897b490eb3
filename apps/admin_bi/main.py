"""The owner's console's ``st.App`` entry: the Streamlit router plus the sign-in routes.

``qlink ui`` and ``qlink demo`` run ``streamlit run apps/admin_bi/main.py`` beside the reception
and doctor apps; the session cookie the sign-in route sets keeps the admin signed in on reload.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st
from starlette.middleware import Middleware

from apps.common.runtime import load_runtime
from apps.common.signin_routes import SignIn, SignInGate

app = st.App(
    Path(__file__).with_name("app.py"),
    routes=SignIn(load_runtime).routes(),
    middleware=[Middleware(SignInGate)],
)
