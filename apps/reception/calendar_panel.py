"""The calendar page's grid and side panel; every action is one core command in a transaction.

State lives in ``st.session_state`` under ``qlink_cal_*`` keys (``auth.forget`` drops them at
sign-out): the chosen patient, the picked slot or booking, and the last action's message.
"""

from __future__ import annotations

import datetime as dt
from html import escape
from typing import Any

import streamlit as st

from apps.common.auth import Staff
from apps.common.runtime import Runtime
from apps.common.widgets import STATUS_STYLE, chip
from apps.reception import calendar_waiting, profile_link
from apps.reception.calendar_actions import FOUND, PATIENT, PICK, act, show_flash
from core.errors import DomainError
from core.patients import search_patients
from core.scheduling.booking import (
    book_appointment,
    cancel_appointment,
    overbook_appointment,
    reschedule_appointment,
)
from core.scheduling.day_calendar import Cell, DayCalendar
from core.scheduling.day_view import BoardRow, DoctorDay
from core.scheduling.slots import available_slots

GRID_PX = 545
REASONS = ("Patient asked", "Doctor unavailable", "Booked by mistake", "Other")
_COLOURS = "".join(
    f'[class*="st-key-cal_{status}_"] button {{background:{s.background};color:{s.colour};'
    "border-color:transparent}\n"
    for status, s in STATUS_STYLE.items()
    if status != "free"
)
GRID_CSS = f"""<style>
{_COLOURS}
[class*="st-key-cal_"] button {{min-height:1.75rem;padding:0 .45rem;font-size:.8rem;
  line-height:1.15rem;justify-content:flex-start}}
[class*="st-key-cal_free_"] button {{border:1px dashed #64748b;background:#fff;color:#334155}}
[class*="st-key-cal_free_"] button:hover {{background:#ecfdf5;border-color:#15803d}}
[class*="st-key-cal_ob_"] button {{border:1px dashed #b45309;color:#92400e;background:#fffbeb}}
.ql-t {{font-weight:700;font-variant-numeric:tabular-nums;font-size:.85rem}}
.ql-off {{color:#94a3b8;font-size:.8rem}}
.ql-offer {{color:#92400e;font-size:.72rem;line-height:1rem;display:block;margin-top:-.3rem}}
.ql-dr {{font-size:.9rem;font-weight:700;line-height:1.1rem}}
.ql-dr small {{display:block;font-weight:400;color:#475569}}
</style>"""


def grid(rt: Runtime, staff: Staff, cal: DayCalendar) -> None:
    """Render the doctors × times grid; free cells book, booked cells open their actions."""
    widths = [0.5] + [1.0] * len(cal.doctors)
    for col, day in zip(st.columns(widths)[1:], cal.doctors, strict=True):
        room = f" · {day.room}" if day.room else ""
        col.markdown(
            f'<div class="ql-dr">{escape(day.name)}<small>{escape(day.department)}{room}</small>'
            "</div>",
            unsafe_allow_html=True,
        )
    picked = st.session_state.get(PICK)
    found = _booked_row(cal, picked[1]) if picked and picked[0] == "appt" else None
    if found is not None:
        key = f"cal_{found[1].status}_{found[1].appointment_id}"
        st.markdown(
            f"<style>.st-key-{key} button{{outline:3px solid #f59e0b;outline-offset:1px}}</style>",
            unsafe_allow_html=True,
        )
    with st.container(height=GRID_PX, border=False):
        for label in _shown_times(cal):
            cols = st.columns(widths, vertical_alignment="top", gap="small")
            cols[0].markdown(f'<span class="ql-t">{label}</span>', unsafe_allow_html=True)
            for col, day in zip(cols[1:], cal.doctors, strict=True):
                with col:
                    _cell(rt, staff, cal, day, cal.cell(day.doctor_id, label))


def _shown_times(cal: DayCalendar) -> list[str]:
    """Slot times still of use: a time whose every cell has passed unbooked is left out."""
    return [
        label
        for label in cal.times
        if any(
            c is not None and (c.booked or not c.past)
            for c in (cal.cell(d.doctor_id, label) for d in cal.doctors)
        )
    ]


def side_panel(rt: Runtime, staff: Staff, cal: DayCalendar) -> None:
    """The patient being booked, the picked booking's actions, then the waiting list."""
    show_flash()
    picked = st.session_state.get(PICK)
    row = _booked_row(cal, picked[1]) if picked and picked[0] == "appt" else None
    if row is not None:
        _booking_box(rt, staff, cal, *row)
    else:
        _patient_box(rt, staff, picked)
    calendar_waiting.waiting_box(rt, staff, cal, st.session_state.get(PATIENT))


def _cell(rt: Runtime, staff: Staff, cal: DayCalendar, day: DoctorDay, cell: Cell | None) -> None:
    if cell is None:
        st.markdown('<span class="ql-off">—</span>', unsafe_allow_html=True)
        return
    for row in cell.booked:
        style = STATUS_STYLE.get(row.status, STATUS_STYLE["scheduled"])
        extra = " · overbooked" if row.overbooked else ""
        st.button(
            f"{style.glyph} {row.patient_name} · {row.patient_code}",
            key=f"cal_{row.status}_{row.appointment_id}",
            help=f"{style.label}{extra}: click to reschedule or cancel",
            on_click=_pick,
            args=(("appt", row.appointment_id),),
            width="stretch",
        )
    patient = st.session_state.get(PATIENT)
    if cell.free:
        who = f"＋ Book {patient[2].split()[0]}" if patient else "Free"
        seats = f" ({cell.seats_left} seats)" if cell.seats_left > 1 else ""
        st.button(
            who + seats,
            key=f"cal_free_{day.doctor_id}_{cell.label}",
            on_click=_free_clicked,
            args=(rt, staff, day, cell),
            width="stretch",
        )
    elif cell.past and not cell.booked:
        st.markdown('<span class="ql-off">passed</span>', unsafe_allow_html=True)
    if cell.offer is not None:
        text = f"⏳ offered to {cell.offer.patient_name} till {cell.offer.offer_expires}"
        st.markdown(f'<span class="ql-offer">{escape(text)}</span>', unsafe_allow_html=True)
    if cell.full and cal.overbook_allowed and patient:
        st.button(
            f"⊕ Overbook {patient[2].split()[0]}",
            key=f"cal_ob_{day.doctor_id}_{cell.label}",
            help="The slot is full: add one more seat (recorded in the audit log)",
            on_click=_overbook,
            args=(rt, staff, day, cell),
            width="stretch",
        )


def _pick(pick: tuple[Any, ...] | None) -> None:
    st.session_state[PICK] = pick


def _free_clicked(rt: Runtime, staff: Staff, day: DoctorDay, cell: Cell) -> None:
    patient = st.session_state.get(PATIENT)
    if patient is None:  # slot first: the panel asks for the patient, then books
        st.session_state[PICK] = ("slot", day.doctor_id, cell.start, cell.label, day.name)
        return
    _book(rt, staff, day.doctor_id, cell.start, f"{cell.label} with {day.name}", patient)


def _book(
    rt: Runtime,
    staff: Staff,
    doctor_id: int,
    start: dt.datetime,
    what: str,
    patient: tuple[int, str, str],
) -> None:
    ok = act(
        rt,
        staff,
        f"Booked {patient[2]} at {what}. WhatsApp confirmation queued.",
        lambda s: book_appointment(
            s, staff.actor, doctor_id=doctor_id, patient_id=patient[0], slot_start=start
        ),
    )
    if ok:
        st.session_state[PICK] = None
        st.session_state[PATIENT] = None


def _overbook(rt: Runtime, staff: Staff, day: DoctorDay, cell: Cell) -> None:
    patient = st.session_state[PATIENT]
    ok = act(
        rt,
        staff,
        f"Overbooked {patient[2]} at {cell.label} with {day.name} (audited).",
        lambda s: overbook_appointment(
            s, staff.actor, doctor_id=day.doctor_id, patient_id=patient[0], slot_start=cell.start
        ),
    )
    if ok:
        st.session_state[PATIENT] = None


def _patient_box(rt: Runtime, staff: Staff, picked: tuple[Any, ...] | None) -> None:
    patient = st.session_state.get(PATIENT)
    if patient is not None:
        st.markdown(f"**Booking for {escape(patient[2])}** · {patient[1]}")
        st.caption("Click a free slot to book.")
        change, profile = st.columns(2)
        change.button("Change patient", key="cal_change_patient", on_click=_choose, args=(None,))
        if profile.button("Profile", key="cal_patient_profile"):
            _open_profile(patient[0])
        return
    if picked and picked[0] == "slot":
        st.markdown(f"**Book {picked[3]} with {escape(picked[4])}**: find the patient")
        st.button("Not this slot", key="cal_unpick", on_click=_pick, args=(None,))
    query = st.text_input(
        "Patient",
        key="cal_query",
        type="search",
        live="300ms",
        placeholder="Name, phone, last 4 digits or code",
    )
    query = (query or "").strip()
    if not query:
        st.caption("Find the patient, then click a free slot. Or click the slot first.")
        return
    for p in _search(rt, staff, query):
        label = f"{p.full_name} · {p.code}" + (f" · {p.masked_phone}" if p.masked_phone else "")
        st.button(
            label,
            key=f"cal_found_{p.id}",
            on_click=_choose,
            args=((p.id, p.code, p.full_name), rt, staff),
            width="stretch",
        )


def _search(rt: Runtime, staff: Staff, query: str) -> list[Any]:
    """Search once per query (each search is audited); reruns reuse the answer."""
    cached = st.session_state.get(FOUND)
    if cached is not None and cached[0] == query:
        return list(cached[1])
    try:
        with rt.db.transaction(staff.actor.tenant_id) as session:
            found = search_patients(session, staff.actor, vault=rt.vault, query=query, limit=6)
    except DomainError as exc:
        st.error(exc.message)
        return []
    if not found:
        st.info("No patient matches. Register new patients on the Desk page.")
    st.session_state[FOUND] = (query, tuple(found))
    return found


def _choose(
    patient: tuple[int, str, str] | None, rt: Runtime | None = None, staff: Staff | None = None
) -> None:
    st.session_state[PATIENT] = patient
    st.session_state.pop("cal_query", None)
    picked = st.session_state.get(PICK)
    if patient and picked and picked[0] == "slot" and rt and staff:
        _book(rt, staff, picked[1], picked[2], f"{picked[3]} with {picked[4]}", patient)


def _booked_row(cal: DayCalendar, appointment_id: int) -> tuple[DoctorDay, BoardRow] | None:
    for day in cal.doctors:
        for row in day.rows:
            if row.appointment_id == appointment_id:
                return day, row
    return None


def _booking_box(
    rt: Runtime, staff: Staff, cal: DayCalendar, day: DoctorDay, row: BoardRow
) -> None:
    style = STATUS_STYLE.get(row.status, STATUS_STYLE["scheduled"])
    st.markdown(
        f"**{escape(row.patient_name or '')}** · {row.patient_code}<br>"
        f"{row.label} with {escape(day.name)} &nbsp;{chip(row.status)}"
        + (" · overbooked" if row.overbooked else ""),
        unsafe_allow_html=True,
    )
    close, profile = st.columns(2)
    close.button("Close", key="cal_close", on_click=_pick, args=(None,))
    if profile.button("Profile", key="cal_booking_profile") and row.patient_id:
        _open_profile(row.patient_id)
    if row.status != "scheduled":
        st.caption(f"{style.label}: only a scheduled appointment can be moved or cancelled.")
        return
    _reschedule_form(rt, staff, cal, day, row)
    reason = st.selectbox("Cancel reason", REASONS, key="cal_cancel_reason")
    st.button(
        "Cancel appointment",
        key="cal_cancel",
        on_click=_cancel,
        args=(rt, staff, row, reason),
        width="stretch",
    )


def _reschedule_form(
    rt: Runtime, staff: Staff, cal: DayCalendar, day: DoctorDay, row: BoardRow
) -> None:
    on = st.date_input("Move to", value=cal.board.on_date, key="cal_move_date", format="DD/MM/YYYY")
    try:
        with rt.db.transaction(staff.actor.tenant_id, readonly=True) as session:
            free = available_slots(
                session,
                staff.actor,
                doctor_id=day.doctor_id,
                on_date=on,
                branch_id=cal.board.branch_id,
            )
    except DomainError as exc:
        st.error(exc.message)
        return
    if not free:
        st.caption(f"{day.name} has no free slot on {on:%d %b}.")
        return
    options = {s.start: s.label for s in free}
    start = st.selectbox(
        "Free slot", list(options), format_func=options.__getitem__, key="cal_move_slot"
    )
    st.button(
        f"Move to {options[start]}",
        key="cal_move",
        type="primary",
        width="stretch",
        on_click=_move,
        args=(rt, staff, row, start, f"{on:%d %b} {options[start]}"),
    )


def _move(rt: Runtime, staff: Staff, row: BoardRow, start: dt.datetime, when: str) -> None:
    assert row.appointment_id is not None
    appt_id = row.appointment_id
    if act(
        rt,
        staff,
        f"Moved {row.patient_name} to {when}. The old booking stays, cancelled.",
        lambda s: reschedule_appointment(
            s, staff.actor, appointment_id=appt_id, new_slot_start=start
        ),
    ):
        st.session_state[PICK] = None


def _cancel(rt: Runtime, staff: Staff, row: BoardRow, reason: str) -> None:
    assert row.appointment_id is not None
    appt_id = row.appointment_id
    if act(
        rt,
        staff,
        f"Cancelled {row.patient_name} at {row.label} ({reason}).",
        lambda s: cancel_appointment(s, staff.actor, appointment_id=appt_id, reason=reason),
    ):
        st.session_state[PICK] = None


def _open_profile(patient_id: int) -> None:
    profile_link.open_profile(patient_id)
