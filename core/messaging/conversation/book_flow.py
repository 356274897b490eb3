"""Booking on WhatsApp: department -> doctor -> date -> slot -> confirm (also rescheduling).

Each step is a list of tapped row ids (``dept:<id>``, ``doc:<id>``, ``date:<iso>``,
``slot:<iso>``); every id is re-checked against the clinic on the way in, since a patient may
tap a row of an old message. The booking itself is ``book_appointment`` (source ``whatsapp``,
idempotent on the inbound message id); a lost race offers the next free slots.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select

from core.errors import SlotTaken
from core.messaging.conversation.menu import (
    ROW_TITLE,
    chosen_id,
    fmt_date,
    fmt_time,
    more_page,
    pick,
    send_menu,
)
from core.messaging.conversation.turn import IDLE, Turn
from core.messaging.messages import Button, Buttons, Row
from core.scheduling.booking import book_appointment, reschedule_appointment
from core.scheduling.doctors import access_doctor
from core.scheduling.slots import Slot, free_slots
from core.tenancy import access_department, branch_departments
from db.models import Doctor

DEPARTMENT, DOCTOR, DATE, SLOT, CONFIRM = (
    "book.department",
    "book.doctor",
    "book.date",
    "book.slot",
    "book.confirm",
)
DAYS_AHEAD = 14


def start_booking(turn: Turn) -> None:
    """Open the booking flow at the department list of the number's branch."""
    _show_departments(turn, 0)


def _show_departments(turn: Turn, page: int) -> None:
    departments = branch_departments(turn.session, turn.actor, branch_id=turn.branch_id)
    if not departments:
        turn.say("conv.book.no_departments")
        turn.go(IDLE)
        return
    rows = [Row(f"dept:{d.id}", d.name[:ROW_TITLE]) for d in departments]
    body = turn.t("conv.book.choose_department")
    pick(turn, body=body, button_key="conv.book.departments", rows=rows, page=page)
    turn.go(DEPARTMENT)


def on_department(turn: Turn) -> bool:
    """Take a department; show its doctors."""
    page = more_page(turn)
    if page is not None:
        _show_departments(turn, page)
        return True
    department_id = chosen_id(turn, "dept")
    if department_id is None:
        return False
    department = access_department(turn.session, turn.actor, department_id)
    turn.go(DOCTOR, department_id=department.id)
    _show_doctors(turn, 0)
    return True


def _show_doctors(turn: Turn, page: int) -> None:
    department = access_department(turn.session, turn.actor, turn.data["department_id"])
    doctors = turn.session.scalars(
        select(Doctor)
        .where(
            Doctor.tenant_id == turn.tenant_id,
            Doctor.department_id == department.id,
            Doctor.active.is_(True),
        )
        .order_by(Doctor.full_name)
    ).all()
    if not doctors:
        turn.say("conv.book.no_doctors", department=department.name)
        turn.go(IDLE)
        return
    rows = [Row(f"doc:{d.id}", d.full_name[:ROW_TITLE], d.specialization[:72]) for d in doctors]
    body = turn.t("conv.book.choose_doctor", department=department.name)
    pick(turn, body=body, button_key="conv.book.doctors", rows=rows, page=page)


def on_doctor(turn: Turn) -> bool:
    """Take a doctor; show the dates with free slots."""
    page = more_page(turn)
    if page is not None:
        _show_doctors(turn, page)
        return True
    doctor_id = chosen_id(turn, "doc")
    if doctor_id is None:
        return False
    doctor = access_doctor(turn.session, turn.actor, doctor_id)
    show_dates(turn, doctor, reschedule_id=None)
    return True


def show_dates(turn: Turn, doctor: Doctor, *, reschedule_id: int | None) -> None:
    """Offer the next days on which ``doctor`` has a free slot (also used to reschedule)."""
    today = turn.now.astimezone(turn.zone).date()
    slots = _free(turn, doctor.id, today, today + dt.timedelta(days=DAYS_AHEAD - 1))
    days = sorted({s.on_date for s in slots})
    if not days:
        turn.say("conv.book.no_dates", doctor=doctor.full_name)
        turn.go(IDLE)
        return
    rows = [Row(f"date:{d.isoformat()}", fmt_date(turn, d)) for d in days]
    body = turn.t("conv.book.choose_date", doctor=doctor.full_name)
    pick(turn, body=body, button_key="conv.book.dates", rows=rows)
    turn.go(DATE, doctor_id=doctor.id, reschedule_id=reschedule_id)


def on_date(turn: Turn) -> bool:
    """Take a date; show that day's free slots."""
    choice = turn.message.reply_id or ""
    if not choice.startswith("date:"):
        return False
    try:
        day = dt.date.fromisoformat(choice[5:])
    except ValueError:
        return False
    turn.data["date"] = day.isoformat()
    _show_slots(turn, 0)
    return True


def _show_slots(turn: Turn, page: int) -> None:
    doctor = access_doctor(turn.session, turn.actor, turn.data["doctor_id"])
    day = dt.date.fromisoformat(turn.data["date"])
    slots = _free(turn, doctor.id, day, day)
    body = turn.t("conv.book.choose_slot", date=fmt_date(turn, day), doctor=doctor.full_name)
    pick(turn, body=body, button_key="conv.book.slots", rows=_slot_rows(slots), page=page)
    turn.go(SLOT, **{**turn.data, "page": page})


def _slot_rows(slots: Sequence[Slot]) -> list[Row]:
    return [Row(f"slot:{s.start.astimezone(dt.UTC).isoformat()}", s.label) for s in slots]


def on_slot(turn: Turn) -> bool:
    """Take a slot; ask to confirm it."""
    page = more_page(turn)
    if page is not None and "date" in turn.data:
        _show_slots(turn, page)
        return True
    choice = turn.message.reply_id or ""
    if not choice.startswith("slot:"):
        return False
    try:
        start = dt.datetime.fromisoformat(choice[5:])
    except ValueError:
        return False
    if start.tzinfo is None:
        return False
    doctor = access_doctor(turn.session, turn.actor, turn.data["doctor_id"])
    local = start.astimezone(turn.zone)
    turn.replies.append(
        Buttons(
            body=turn.t(
                "conv.book.confirm",
                doctor=doctor.full_name,
                date=fmt_date(turn, local.date()),
                time=fmt_time(turn, start),
            ),
            buttons=(
                Button("book:yes", turn.t("conv.book.yes")),
                Button("book:other", turn.t("conv.book.other")),
                Button("book:no", turn.t("conv.book.no")),
            ),
        )
    )
    turn.go(CONFIRM, **{**turn.data, "slot": start.isoformat()})
    return True


def on_confirm(turn: Turn) -> bool:
    """Book (or move) on "Confirm"; other times or cancel on the other buttons."""
    choice = turn.message.reply_id
    doctor = access_doctor(turn.session, turn.actor, turn.data["doctor_id"])
    if choice == "book:other":
        show_dates(turn, doctor, reschedule_id=turn.data.get("reschedule_id"))
    elif choice == "book:no":
        turn.say("conv.book.abandoned")
        send_menu(turn)
    elif choice == "book:yes":
        _book(turn, doctor, dt.datetime.fromisoformat(turn.data["slot"]))
    else:
        return False
    return True


def _book(turn: Turn, doctor: Doctor, start: dt.datetime) -> None:
    assert turn.patient is not None
    reschedule_id = turn.data.get("reschedule_id")
    try:
        if reschedule_id is not None:
            reschedule_appointment(
                turn.session,
                turn.actor,
                appointment_id=reschedule_id,
                new_slot_start=start,
                tell_patient=False,  # confirmed right here in the chat
            )
        else:
            book_appointment(
                turn.session,
                turn.actor,
                doctor_id=doctor.id,
                patient_id=turn.patient.id,
                slot_start=start,
                branch_id=turn.branch_id,
                source="whatsapp",
                idempotency_key=f"wa:{turn.message.wa_message_id}"[:80],
            )
    except SlotTaken as taken:
        offer_alternatives(turn, taken.alternatives)
        return
    key = "conv.book.rescheduled" if reschedule_id is not None else "conv.book.done"
    local = start.astimezone(turn.zone)
    turn.say(
        key, doctor=doctor.full_name, date=fmt_date(turn, local.date()), time=fmt_time(turn, start)
    )
    turn.go(IDLE)


def offer_alternatives(turn: Turn, alternatives: Sequence[Slot]) -> None:
    """After a lost race: the next free slots of ``turn.data["doctor_id"]`` as a list."""
    data = {k: v for k, v in turn.data.items() if k in ("doctor_id", "reschedule_id")}
    if not alternatives:
        doctor = access_doctor(turn.session, turn.actor, turn.data["doctor_id"])
        turn.say("conv.book.taken")
        show_dates(turn, doctor, reschedule_id=data.get("reschedule_id"))
        return
    rows = [
        Row(
            f"slot:{s.start.astimezone(dt.UTC).isoformat()}",
            f"{fmt_date(turn, s.on_date)} {s.label}"[:ROW_TITLE],
        )
        for s in alternatives
    ]
    pick(turn, body=turn.t("conv.book.taken"), button_key="conv.book.slots", rows=rows)
    turn.go(SLOT, **data)


def _free(turn: Turn, doctor_id: int, first: dt.date, last: dt.date) -> list[Slot]:
    return free_slots(
        turn.session,
        turn.tenant_id,
        doctor_id=doctor_id,
        first=first,
        last=last,
        branch_id=turn.branch_id,
        now=turn.now,
    )


STEPS = {
    DEPARTMENT: on_department,
    DOCTOR: on_doctor,
    DATE: on_date,
    SLOT: on_slot,
    CONFIRM: on_confirm,
}
