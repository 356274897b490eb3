"""Web booking requests: a branch's pending requests, confirmed into a slot or answered with
another time; the patient is told on WhatsApp either way (core.scheduling.web_requests)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import streamlit as st

from apps.common import auth
from apps.common.runtime import runtime
from core.errors import DomainError, SlotTaken
from core.scheduling import web_booking, web_requests
from core.scheduling.slots import Slot, available_slots

rt = runtime()
staff = auth.current()
desk = staff.desk
if desk is None:  # the router shows this page only to clinic staff
    st.stop()
branch_id = staff.branch_id
if branch_id is None:
    st.info("This clinic has no branches yet.")
    st.stop()
tenant_id = staff.actor.tenant_id
assert tenant_id is not None

st.markdown(f"### Web booking requests · {staff.branch_name}")


def load() -> tuple[list[web_requests.RequestRow], web_booking.Directory] | None:
    try:
        with rt.db.transaction(tenant_id, readonly=True) as session:
            rows = web_requests.list_booking_requests(
                session, staff.actor, vault=rt.vault, branch_id=branch_id
            )
            return rows, web_booking.public_directory(session, tenant_id)
    except DomainError as exc:
        st.error(exc.message)
        return None


def free(doctor_id: int, day: dt.date) -> list[Slot]:
    try:
        with rt.db.transaction(tenant_id, readonly=True) as session:
            return available_slots(
                session, staff.actor, doctor_id=doctor_id, on_date=day, branch_id=branch_id
            )
    except DomainError as exc:
        st.error(exc.message)
        return []


def confirm(row: web_requests.RequestRow, doctor_id: int, slot: Slot) -> None:
    try:
        with rt.db.transaction(tenant_id) as session:
            web_requests.confirm_booking_request(
                session,
                staff.actor,
                request_id=row.id,
                doctor_id=doctor_id,
                slot_start=slot.start,
                vault=rt.vault,
            )
    except SlotTaken as exc:
        st.error(f"{exc.message}: pick another time.")
        return
    except DomainError as exc:
        st.error(exc.message)
        return
    st.toast(f"Booked {row.patient_name} at {slot.label}; the patient is told on WhatsApp.")
    st.rerun()


def propose(row: web_requests.RequestRow, doctor_id: int, when: dt.datetime, note: str) -> None:
    try:
        with rt.db.transaction(tenant_id) as session:
            web_requests.propose_booking_request(
                session,
                staff.actor,
                request_id=row.id,
                proposed_start=when,
                note=note,
                doctor_id=doctor_id,
            )
    except DomainError as exc:
        st.error(exc.message)
        return
    st.toast(f"Proposed {when:%d %b %H:%M} to {row.patient_name} on WhatsApp (Accept books it).")
    st.rerun()


loaded = load()
if loaded is None:
    st.stop()
rows, directory = loaded
mode = next((b.mode for b in directory.branches if b.id == branch_id), "live")
st.caption(
    f"Online booking at this branch: **{mode}**"
    + (" (patients pick live slots)" if mode == "live" else " (patients request a time here)")
)
if not rows:
    st.info("No pending web booking requests.")
    st.stop()

zone = ZoneInfo(directory.clinic.timezone)
doctors = [d for d in directory.doctors if branch_id in d.branch_ids]
for row in rows:
    with st.container(border=True, key=f"request-{row.id}"):
        age = f", {row.age_years} y" if row.age_years is not None else ""
        st.markdown(
            f"**{row.patient_name}**{age} · {row.phone or 'no phone'} · wants "
            f"**{row.preferred_date:%a %d %b}**, {row.window}"
            + (f" · {row.department}" if row.department else "")
            + (f" · {row.doctor}" if row.doctor else "")
        )
        fits = [d for d in doctors if row.department_id in (None, d.department_id)] or doctors
        if not fits:
            st.warning("No doctor works at this branch.")
            continue
        left, right = st.columns(2)
        with left:
            chosen = st.selectbox(
                "Doctor",
                fits,
                format_func=lambda d: d.name,
                key=f"doctor-{row.id}",
                index=next((i for i, d in enumerate(fits) if d.id == row.doctor_id), 0),
            )
            day = st.date_input(
                "Day", value=row.preferred_date, key=f"day-{row.id}", format="DD/MM/YYYY"
            )
            slots = free(chosen.id, day)
            if slots:
                slot = st.selectbox(
                    "Free slot", slots, format_func=lambda s: s.label, key=f"slot-{row.id}"
                )
                if st.button("Confirm booking", key=f"confirm-{row.id}", type="primary"):
                    confirm(row, chosen.id, slot)
            else:
                st.caption("No free slot that day; pick another day or propose a time.")
        with right:
            when_day = st.date_input(
                "Propose day", value=row.preferred_date, key=f"pday-{row.id}", format="DD/MM/YYYY"
            )
            when_time = st.time_input("Propose time", value=dt.time(10, 0), key=f"ptime-{row.id}")
            note = st.text_input("Note to the patient", key=f"note-{row.id}", max_chars=200)
            if st.button("Propose this time", key=f"propose-{row.id}"):
                when = dt.datetime.combine(when_day, when_time, tzinfo=zone)
                propose(row, chosen.id, when, note)  # with the doctor picked on the left
