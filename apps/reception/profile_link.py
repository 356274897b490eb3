"""Open a patient's profile page (views/patient.py) from any reception page.

The profile reads the patient from ``PROFILE`` in the session; the calendar, the desk's search
results and the patients page set it and switch to the page. Shown only to roles that may read
a profile (``patient.read``), as the navigation shows the page.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from core.auth.permissions import can
from core.context import Actor

PROFILE = "qlink_profile_patient"  # read by views/patient.py
PATIENT_PAGE = Path(__file__).parent / "views" / "patient.py"


def allowed(actor: Actor) -> bool:
    return can(actor, "patient.read")


def open_profile(patient_id: int) -> None:
    """Show ``patient_id`` on the profile page (stops this run)."""
    st.session_state[PROFILE] = patient_id
    st.switch_page(st.Page(PATIENT_PAGE))


def button(actor: Actor, patient_id: int, *, key: str, label: str = "Profile") -> None:
    """A button opening the patient's profile (nothing for a role that cannot read one)."""
    if not allowed(actor):
        return
    if st.button(label, key=key, icon=":material/person:", help="Open the patient's profile"):
        open_profile(patient_id)
