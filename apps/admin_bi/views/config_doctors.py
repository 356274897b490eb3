"""Configuration: doctors, their weekly hours and their leaves."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from apps.admin_bi.config_kit import command, page, read
from core import clinic_config
from core.scheduling import doctors, roster

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

rt, staff = page("Doctors and schedules")
assert staff.desk is not None
people = read(rt, staff, roster.list_doctors)
branches = read(rt, staff, clinic_config.clinic_structure)
depts = {d.id: f"{d.code} · {d.name}" for b in branches for d in b.departments}
st.dataframe(
    pd.DataFrame(
        [
            {
                "Doctor": d.full_name,
                "Speciality": d.specialization,
                "Department": depts.get(d.department_id, ""),
                "Fee ₹": d.fee_minor / 100,
                "Room": d.default_room or "",
                "Working": "yes" if d.active else "retired",
            }
            for d in people
        ],
        columns=["Doctor", "Speciality", "Department", "Fee ₹", "Room", "Working"],
    ),
    hide_index=True,
    width="stretch",
)

with st.expander("Add a doctor", expanded=not people), st.form("add_doctor"):
    name = st.text_input("Name", key="doc_new_name")
    spec = st.text_input("Speciality", key="doc_new_spec")
    dept = st.selectbox(
        "Department", list(depts), format_func=depts.__getitem__, key="doc_new_dept"
    )
    fee = st.number_input("Fee ₹", 0, 100000, 500, key="doc_new_fee")
    if st.form_submit_button("Add doctor"):
        command(
            rt,
            staff,
            f"{name} added.",
            doctors.create_doctor,
            department_id=dept,
            full_name=name,
            specialization=spec,
            fee_minor=int(fee) * 100,
        )

if not people:
    st.stop()
names = {d.id: d.full_name for d in people}
pick = st.selectbox("Doctor", list(names), format_func=names.__getitem__, key="doc_pick")
doc = next(d for d in people if d.id == pick)
edit, hours, leave = st.tabs(["Details", "Weekly hours", "Leave"])
with edit, st.form("edit_doctor"):
    full = st.text_input("Name", doc.full_name, key="doc_name")
    speciality = st.text_input("Speciality", doc.specialization, key="doc_spec")
    fee_rs = st.number_input("Fee ₹", 0, 100000, doc.fee_minor // 100, key="doc_fee")
    room = st.text_input("Room", doc.default_room or "", key="doc_room")
    working = st.checkbox("Working here", doc.active, key="doc_active")
    if st.form_submit_button("Save doctor"):
        command(
            rt,
            staff,
            "Doctor saved.",
            roster.edit_doctor,
            doctor_id=doc.id,
            full_name=full,
            specialization=speciality,
            fee_minor=int(fee_rs) * 100,
            default_room=room or None,
            active=working,
        )
with hours:
    windows = read(rt, staff, roster.doctor_hours, doctor_id=doc.id)
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "Day": DAYS[w.weekday],
                    "From": f"{w.start:%H:%M}",
                    "To": f"{w.end:%H:%M}",
                    "Slot min": w.slot_minutes,
                    "Per slot": w.capacity,
                }
                for w in windows
            ],
            columns=["Day", "From", "To", "Slot min", "Per slot"],
        ),
        hide_index=True,
    )
    with st.form("add_hours"):
        days = st.multiselect("Days", range(7), format_func=DAYS.__getitem__, key="hrs_days")
        c1, c2, c3 = st.columns(3)
        start = c1.time_input("From", dt.time(9, 0), key="hrs_start")
        end = c2.time_input("To", dt.time(13, 0), key="hrs_end")
        slot = c3.number_input("Slot minutes", 5, 120, 15, key="hrs_slot")
        if st.form_submit_button("Add hours"):
            command(
                rt,
                staff,
                "Hours added.",
                doctors.add_weekly_schedule,
                doctor_id=doc.id,
                branch_id=staff.branch_id or branches[0].id,
                weekdays=list(days),
                start=start,
                end=end,
                slot_minutes=int(slot),
            )
with leave:
    today = staff.desk.today
    leaves = read(rt, staff, roster.doctor_leaves, doctor_id=doc.id, since=today)
    for v in leaves:
        st.write(f"{v.start_date:%d %b} – {v.end_date:%d %b %Y}: {v.reason or 'leave'}")
    with st.form("add_leave"):
        span = st.date_input("From – to", (today, today), min_value=today, key="leave_dates")
        reason = st.text_input("Reason", key="leave_reason")
        if st.form_submit_button("Add leave"):
            picked = tuple(span) if isinstance(span, tuple | list) else (span,)
            command(
                rt,
                staff,
                "Leave added; bookings on those days are refused.",
                doctors.add_leave,
                doctor_id=doc.id,
                start_date=picked[0],
                end_date=picked[-1],
                reason=reason or None,
            )
