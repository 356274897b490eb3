"""Configuration: staff logins and roles — create, disable, reset a password, unlock."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from apps.admin_bi.config_kit import command, page, read
from apps.common.auth import ROLE_NAMES
from core.auth import staff as logins
from core.auth import users
from core.scheduling import roster

STAFF_ROLES = ("clinic_admin", "receptionist", "doctor", "lab_technician")

rt, staff = page("Users and roles")
rows = read(rt, staff, logins.list_staff)
st.dataframe(
    pd.DataFrame(
        [
            {
                "Username": u.username,
                "Name": u.full_name,
                "Role": ROLE_NAMES.get(u.role, u.role),
                "Active": "yes" if u.active else "disabled",
                "Locked": "LOCKED" if u.locked else "",
                "Last sign-in": u.last_login_at,
            }
            for u in rows
        ],
        columns=["Username", "Name", "Role", "Active", "Locked", "Last sign-in"],
    ),
    hide_index=True,
    width="stretch",
)
by_id = {u.id: u for u in rows}
pick = st.selectbox("User", list(by_id), format_func=lambda i: by_id[i].username, key="usr_pick")
chosen = by_id[pick]
c1, c2, c3 = st.columns(3)
if chosen.active and c1.button("Disable login", key="usr_disable"):
    command(
        rt,
        staff,
        f"{chosen.username} disabled; open sessions ended.",
        logins.set_user_active,
        user_id=pick,
        active=False,
    )
if not chosen.active and c1.button("Enable login", key="usr_enable"):
    command(
        rt, staff, f"{chosen.username} enabled.", logins.set_user_active, user_id=pick, active=True
    )
if chosen.locked and c2.button("Unlock", key="usr_unlock"):
    command(rt, staff, f"{chosen.username} unlocked.", logins.unlock_user, user_id=pick)
with c3.popover("Reset password"):
    new = st.text_input("New password", type="password", key="usr_new_password")
    if st.button("Set password", key="usr_reset"):
        command(
            rt,
            staff,
            "Password changed; tell the user in person.",
            logins.reset_password,
            user_id=pick,
            new_password=new,
        )

st.markdown("##### New login")
doctors = {0: "—"} | {d.id: d.full_name for d in read(rt, staff, roster.list_doctors)}
with st.form("new_user", clear_on_submit=True):
    a, b = st.columns(2)
    username = a.text_input("Username", key="usr_new_username")
    full = b.text_input("Full name", key="usr_new_name")
    role = a.selectbox(
        "Role", STAFF_ROLES, format_func=lambda r: ROLE_NAMES.get(r, r), key="usr_new_role"
    )
    doctor = b.selectbox(
        "Doctor (for a doctor's login)",
        list(doctors),
        format_func=doctors.__getitem__,
        key="usr_new_doctor",
    )
    password = a.text_input("First password", type="password", key="usr_new_pw")
    if st.form_submit_button("Create login"):
        command(
            rt,
            staff,
            f"{username} created.",
            users.create_user,
            username=username,
            password=password,
            full_name=full,
            role=role,
            doctor_id=int(doctor) or None,
            branch_id=staff.branch_id,
        )
