"""Arriving and waiting: check in from the desk's QR code, and the token's status.

The desk's QR code is a ``https://wa.me/<number>?text=CHECKIN%20<branch-slug>`` link: it opens
WhatsApp with the message ``CHECKIN <branch-slug>`` typed in (``checkin_text``), so sending it
proves the patient stands at that branch. A scheduled appointment of today at that branch is
checked in (a ``booked`` token); without one the patient gets a walk-in token.
"""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

from sqlalchemy import select

from core.errors import NotFound
from core.messaging.conversation.menu import ROW_TITLE, chosen_id, fmt_date, fmt_time, pick
from core.messaging.conversation.turn import IDLE, Turn
from core.messaging.dates import clock_label
from core.messaging.messages import Row
from core.queue.issuing import issue_token
from core.signage.links import link_expiry, sign_token_ref
from core.signage.token_view import token_view
from core.tenancy import access_department, branch_by_slug, branch_departments, tenant_timezone
from db.models import Appointment, Doctor, QueueToken
from db.models.queue import ACTIVE_TOKEN_STATUSES

CHECKIN_WORD = "CHECKIN"
CHECKIN_PATTERN = re.compile(r"^\s*CHECK-?IN\s+([a-z0-9][a-z0-9-]{0,39})\s*$", re.IGNORECASE)
CHOOSE_DEPARTMENT = "checkin.department"


def checkin_text(branch_slug: str) -> str:
    """Return the message the desk's QR code pre-fills for ``branch_slug``."""
    return f"{CHECKIN_WORD} {branch_slug}"


def checkin_slug(text: str) -> str | None:
    """Return the branch slug of a ``CHECKIN <branch-slug>`` message, else None."""
    match = CHECKIN_PATTERN.match(text)
    return match.group(1).lower() if match else None


def check_in(turn: Turn, slug: str) -> None:
    """Check in today's appointment at the branch, or issue a walk-in token there."""
    assert turn.patient is not None
    try:
        branch = branch_by_slug(turn.session, turn.actor, slug)
    except NotFound:
        turn.say("conv.checkin.unknown_branch")
        turn.go(IDLE)
        return
    today = turn.now.astimezone(tenant_timezone(turn.session, turn.tenant_id, branch)).date()
    appointment = turn.session.scalars(
        select(Appointment)
        .where(
            Appointment.tenant_id == turn.tenant_id,
            Appointment.patient_id == turn.patient.id,
            Appointment.branch_id == branch.id,
            Appointment.service_date == today,
            Appointment.status == "scheduled",
        )
        .order_by(Appointment.slot_start)
        .limit(1)
    ).first()
    if appointment is not None:
        token = issue_token(
            turn.session,
            turn.actor,
            patient_id=turn.patient.id,
            department_id=appointment.department_id,
            kind="booked",
            doctor_id=appointment.doctor_id,
            appointment_id=appointment.id,
            source="whatsapp",
        )
        tell_token(turn, token.id)
        return
    departments = branch_departments(turn.session, turn.actor, branch_id=branch.id)
    if len(departments) == 1:
        _walk_in(turn, departments[0].id)
        return
    rows = [Row(f"walkin:{d.id}", d.name[:ROW_TITLE]) for d in departments]
    body = turn.t("conv.checkin.choose_department")
    pick(turn, body=body, button_key="conv.book.departments", rows=rows)
    turn.go(CHOOSE_DEPARTMENT, branch_id=branch.id)


def on_walk_in_department(turn: Turn) -> bool:
    """Take the department a walk-in patient is here for."""
    department_id = chosen_id(turn, "walkin")
    if department_id is None:
        return False
    department = access_department(turn.session, turn.actor, department_id)
    if department.branch_id != turn.data.get("branch_id"):
        return False
    _walk_in(turn, department.id)
    return True


def _walk_in(turn: Turn, department_id: int) -> None:
    assert turn.patient is not None
    token = issue_token(
        turn.session,
        turn.actor,
        patient_id=turn.patient.id,
        department_id=department_id,
        kind="walk_in",
        source="whatsapp",
    )
    tell_token(turn, token.id)


def tell_token(turn: Turn, token_id: int) -> None:
    """Reply with a token's code, place, ETA and its tracking link."""
    view = token_view(turn.session, turn.actor, token_id=token_id)
    lines = [turn.t("conv.token.code", code=view.code, department=view.department)]
    if view.status == "called" and view.room:
        lines.append(turn.t("conv.token.called", room=view.room))
    if view.position is not None:
        lines.append(turn.t("conv.token.position", position=view.position))
    if view.eta is not None:
        zone = ZoneInfo(view.timezone)
        eta = clock_label(turn.lang, view.eta, zone)
        lines.append(turn.t("conv.token.eta", time=eta, minutes=view.minutes or 0))
    if turn.links is not None:
        expires = link_expiry(view.service_date, ZoneInfo(view.timezone))
        ref = sign_token_ref(turn.links.secret, view.token_id, turn.tenant_id, expires)
        lines.append(turn.t("conv.token.link", link=f"{turn.links.base_url}/t/{ref}"))
    turn.say_lines(lines)
    turn.go(IDLE)


def tell_status(turn: Turn) -> None:
    """Reply with the patient's active token, else the next appointment, else that none is."""
    assert turn.patient is not None
    token_id = turn.session.scalar(
        select(QueueToken.id)
        .where(
            QueueToken.tenant_id == turn.tenant_id,
            QueueToken.patient_id == turn.patient.id,
            QueueToken.status.in_(ACTIVE_TOKEN_STATUSES),
        )
        .order_by(QueueToken.issued_at.desc())
        .limit(1)
    )
    if token_id is not None:
        tell_token(turn, token_id)
        return
    upcoming = turn.session.execute(
        select(Appointment.slot_start, Doctor.full_name)
        .join(Doctor, Doctor.id == Appointment.doctor_id)
        .where(
            Appointment.tenant_id == turn.tenant_id,
            Doctor.tenant_id == turn.tenant_id,
            Appointment.patient_id == turn.patient.id,
            Appointment.status == "scheduled",
            Appointment.slot_start >= turn.now,
        )
        .order_by(Appointment.slot_start)
        .limit(1)
    ).first()
    if upcoming is None:
        turn.say("conv.status.none")
    else:
        start, doctor = upcoming
        local = start.astimezone(turn.zone)
        turn.say(
            "conv.status.appointment",
            doctor=doctor,
            date=fmt_date(turn, local.date()),
            time=fmt_time(turn, start),
        )
    turn.go(IDLE)


STEPS = {CHOOSE_DEPARTMENT: on_walk_in_department}
