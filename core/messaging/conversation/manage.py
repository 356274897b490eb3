"""Cancel or reschedule one of the patient's upcoming appointments."""

from __future__ import annotations

from sqlalchemy import select

from core.messaging.conversation.book_flow import show_dates
from core.messaging.conversation.menu import (
    ROW_TITLE,
    chosen_id,
    fmt_date,
    fmt_time,
    pick,
)
from core.messaging.conversation.turn import IDLE, Turn
from core.messaging.messages import Button, Buttons, Row
from core.scheduling.booking import access_appointment, cancel_appointment
from core.scheduling.doctors import access_doctor
from db.models import Appointment, Doctor

CHOOSE, ACT = "manage.choose", "manage.act"
UPCOMING_SHOWN = 10
CANCEL_REASON = "Cancelled by the patient on WhatsApp"


def start_manage(turn: Turn) -> None:
    """List the patient's upcoming appointments to pick one."""
    assert turn.patient is not None
    rows = turn.session.execute(
        select(Appointment.id, Appointment.slot_start, Doctor.full_name)
        .join(Doctor, Doctor.id == Appointment.doctor_id)
        .where(
            Appointment.tenant_id == turn.tenant_id,
            Doctor.tenant_id == turn.tenant_id,
            Appointment.patient_id == turn.patient.id,
            Appointment.status == "scheduled",
            Appointment.slot_start >= turn.now,
        )
        .order_by(Appointment.slot_start)
        .limit(UPCOMING_SHOWN)
    ).all()
    if not rows:
        turn.say("conv.manage.none")
        turn.go(IDLE)
        return
    choices = [
        Row(
            f"appt:{appt_id}",
            f"{fmt_date(turn, start.astimezone(turn.zone).date())} {fmt_time(turn, start)}"[
                :ROW_TITLE
            ],
            doctor[:72],
        )
        for appt_id, start, doctor in rows
    ]
    body = turn.t("conv.manage.choose")
    pick(turn, body=body, button_key="conv.manage.appointments", rows=choices)
    turn.go(CHOOSE)


def on_choose(turn: Turn) -> bool:
    """Take the appointment; offer cancel, reschedule or keep."""
    appointment_id = chosen_id(turn, "appt")
    if appointment_id is None:
        return False
    appt = _own(turn, appointment_id)
    if appt is None:
        return False
    doctor = access_doctor(turn.session, turn.actor, appt.doctor_id)
    turn.replies.append(
        Buttons(
            body=turn.t("conv.manage.action", **_when(turn, appt, doctor.full_name)),
            buttons=(
                Button(f"cancel:{appt.id}", turn.t("conv.manage.cancel")),
                Button(f"resched:{appt.id}", turn.t("conv.manage.reschedule")),
                Button("keep", turn.t("conv.manage.keep")),
            ),
        )
    )
    turn.go(ACT, appointment_id=appt.id)
    return True


def on_act(turn: Turn) -> bool:
    """Cancel, start rescheduling, or keep the chosen appointment."""
    if turn.message.reply_id == "keep":
        turn.say("conv.manage.kept")
        turn.go(IDLE)
        return True
    cancel_id, resched_id = chosen_id(turn, "cancel"), chosen_id(turn, "resched")
    appt = _own(turn, cancel_id or resched_id or 0)
    if appt is None or appt.id != turn.data.get("appointment_id"):
        return False
    doctor = access_doctor(turn.session, turn.actor, appt.doctor_id)
    if cancel_id is not None:
        cancel_appointment(
            turn.session,
            turn.actor,
            appointment_id=appt.id,
            reason=CANCEL_REASON,
            tell_patient=False,  # confirmed right here in the chat
        )
        turn.say("conv.manage.cancelled", **_when(turn, appt, doctor.full_name))
        turn.go(IDLE)
    else:
        show_dates(turn, doctor, reschedule_id=appt.id)
    return True


def _own(turn: Turn, appointment_id: int) -> Appointment | None:
    """Return the appointment if it is this patient's and still scheduled."""
    assert turn.patient is not None
    if not appointment_id:
        return None
    appt = access_appointment(turn.session, turn.actor, appointment_id)
    if appt.patient_id != turn.patient.id or appt.status != "scheduled":
        return None
    return appt


def _when(turn: Turn, appt: Appointment, doctor: str) -> dict[str, str]:
    local = appt.slot_start.astimezone(turn.zone)
    return {
        "doctor": doctor,
        "date": fmt_date(turn, local.date()),
        "time": fmt_time(turn, appt.slot_start),
    }


STEPS = {CHOOSE: on_choose, ACT: on_act}
