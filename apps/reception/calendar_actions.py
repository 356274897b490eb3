"""Running one calendar action: a core command in a transaction, its outcome kept for the panel.

State keys are ``qlink_cal_*`` so ``auth.forget`` drops them at sign-out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from apps.common.auth import Staff, recheck
from apps.common.runtime import Runtime
from core.errors import DomainError, SlotTaken

PATIENT = "qlink_cal_patient"  # (id, code, full name) of the patient being booked
PICK = "qlink_cal_pick"  # ("slot", doctor_id, start, label, doctor) or ("appt", appointment_id)
FLASH = "qlink_cal_flash"  # ("ok" | "err", message) of the last action
FOUND = "qlink_cal_found"  # (query, results) of the last patient search


def act(rt: Runtime, staff: Staff, done: str, command: Callable[[Any], Any]) -> bool:
    """Run one core command in a transaction and leave its outcome for the panel to show."""
    recheck(rt, touch=True)
    try:
        with rt.db.transaction(staff.actor.tenant_id) as session:
            command(session)
    except SlotTaken as exc:
        nxt = ", ".join(s.local_start.strftime("%a %H:%M") for s in exc.alternatives)
        st.session_state[FLASH] = ("err", f"{exc.message}. Next free: {nxt or 'none soon'}")
        return False
    except DomainError as exc:
        st.session_state[FLASH] = ("err", exc.message)
        return False
    st.session_state[FLASH] = ("ok", done)
    return True


def show_flash() -> None:
    """Show the last action's outcome once."""
    flash = st.session_state.pop(FLASH, None)
    if flash is not None:
        (st.success if flash[0] == "ok" else st.error)(flash[1])
