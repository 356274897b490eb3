"""The booking Flow behind ``POST /webhooks/whatsapp/flows``: department → doctor and day → slot.

The screens' lists come live from core (departments, active doctors, ``available_slots``); the
choices and the open flow token live in the contact's ``conversation_sessions.data["flow"]``, so
a finished, replaced or unknown token is stale (427). When the token names the patient, the last
screen books through ``book_appointment``; otherwise the choice is handed to the conversation,
which finishes the booking when the ``nfm_reply`` carrying the same ``flow_token`` arrives.

Every read goes through the actor's clinic: another clinic's department or doctor id is
``NotFound``, and lists are filtered by tenant.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from core import audit
from core.auth.permissions import require
from core.context import Actor, load_owned, tenant_of
from core.errors import (
    Conflict,
    DoctorNotAvailable,
    DomainError,
    NotFound,
    SlotTaken,
    ValidationFailed,
)
from core.messaging.flows.tokens import FlowToken, StaleFlowToken, sign_flow_token
from core.scheduling.booking import book_appointment
from core.scheduling.doctors import access_doctor
from core.scheduling.slots import available_slots
from core.tenancy import access_department, tenant_timezone
from db.models import (
    Branch,
    ConversationSession,
    Department,
    Doctor,
    DoctorBranch,
    Patient,
    Tenant,
)

SCREENS = ("DEPARTMENT", "DOCTOR", "SLOT")
DAYS_AHEAD = 7
DEFAULT_TTL = dt.timedelta(hours=24)
MAX_OPTIONS = 50  # Dropdowns take up to 200 items; keep the screen short
FLOW_SETTING = "whatsapp_booking_flow_id"  # tenants.settings: Meta's id of the booking Flow


@dataclass(frozen=True)
class FlowRequest:
    """A decrypted data-exchange request (Meta's field names)."""

    version: str
    action: str  # ping | INIT | data_exchange | BACK
    flow_token: str | None = None
    screen: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)


def set_booking_flow(session: Session, actor: Actor, *, meta_flow: str | None) -> None:
    """Set (or clear, with None) the Meta Flow id of the clinic's published booking Flow.

    With one set, "book" on WhatsApp opens the Flow instead of the list steps.
    """
    require(actor, "settings.write")
    tenant_id = tenant_of(session, actor)
    value = (meta_flow or "").strip() or None
    if value is not None and not (value.isdigit() and len(value) <= 40):
        raise ValidationFailed("A Flow id is Meta's number for the Flow", field="meta_flow")
    tenant = session.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFound("Clinic not found")
    settings = {k: v for k, v in (tenant.settings or {}).items() if k != FLOW_SETTING}
    tenant.settings = {**settings, **({FLOW_SETTING: value} if value else {})}
    session.flush()
    detail = {"flow_id": value}
    audit.record(
        session, actor, "booking_flow.set", entity="tenant", entity_id=tenant_id, detail=detail
    )


def booking_flow_of(session: Session, actor: Actor) -> str | None:
    """The Meta Flow id of the clinic's booking Flow, if one is set."""
    tenant_id = tenant_of(session, actor)
    settings = session.execute(select(Tenant.settings).where(Tenant.id == tenant_id)).scalar()
    value = (settings or {}).get(FLOW_SETTING)
    return str(value) if value else None


def mint_booking_flow(
    session: Session,
    actor: Actor,
    *,
    secret: str,
    contact_key: str,
    patient_id: int | None = None,
    ttl: dt.timedelta = DEFAULT_TTL,
) -> tuple[str, dict[str, Any]]:
    """Mint a booking ``flow_token``; return it with the state to keep in ``data["flow"]``.

    The conversation stores the state with its own session write (one compare-and-set).
    """
    require(actor, "appointment.book")
    tenant_id = tenant_of(session, actor)
    if patient_id is not None:
        load_owned(session, actor, Patient, patient_id, "Patient")
    token = sign_flow_token(
        secret, FlowToken(tenant_id, contact_key, actor.clock() + ttl, patient_id)
    )
    return token, {"token": token, "status": "open", "screen": "DEPARTMENT"}


def open_booking_flow(
    session: Session,
    actor: Actor,
    *,
    secret: str,
    contact_key: str,
    patient_id: int | None = None,
    ttl: dt.timedelta = DEFAULT_TTL,
) -> str:
    """Mint the ``flow_token`` for a booking Flow message and record it on the contact's session.

    A newer token replaces an older one, which then answers 427. The conversation sends the Flow
    message (``flow_action: "data_exchange"``) with the returned token.
    """
    token, state = mint_booking_flow(
        session, actor, secret=secret, contact_key=contact_key, patient_id=patient_id, ttl=ttl
    )
    tenant_id = tenant_of(session, actor)
    row = _conversation(session, tenant_id, contact_key)
    if row is None:
        row = ConversationSession(tenant_id=tenant_id, contact_key=contact_key, data={})
        session.add(row)
        session.flush()
    _save(session, row, state)
    return token


def answer_flow(
    session: Session, actor: Actor, *, token: FlowToken, raw_token: str, request: FlowRequest
) -> dict[str, Any]:
    """Answer INIT / data_exchange / BACK of the booking Flow; returns the clear response.

    Raises ``StaleFlowToken`` when the token is not the contact's open one.
    """
    tenant_id = tenant_of(session, actor)
    if token.tenant_id != tenant_id:
        raise StaleFlowToken("Unknown flow token")
    row = _conversation(session, tenant_id, token.contact_key)
    state = dict((row.data or {}).get("flow") or {}) if row is not None else {}
    if row is None or state.get("token") != raw_token or state.get("status") != "open":
        raise StaleFlowToken("This booking form is no longer active; send 'book' to start again")
    screens = _Screens(session, actor, tenant_id)
    if request.action == "INIT":
        state = {"token": raw_token, "status": "open"}
    state["patient_id"] = token.patient_id  # the signed token names the patient, not the client
    if request.action == "INIT":
        reply = screens.department()
    elif request.action == "BACK":
        reply = screens.back_from(state)
    elif request.action == "data_exchange":
        reply = screens.submit(state, request.screen or str(state.get("screen")), request.data)
    else:
        raise ValidationFailed(f"Unknown Flows action {request.action!r}", field="action")
    screen = reply["screen"]
    if screen == "SUCCESS":
        params = reply["data"]["extension_message_response"]["params"]
        state.update(status="done", result=params)
    else:
        state["screen"] = screen
    _save(session, row, state)
    return {"version": request.version, **reply}


class _Screens:
    def __init__(self, session: Session, actor: Actor, tenant_id: int) -> None:
        self.s, self.actor, self.tenant_id = session, actor, tenant_id

    def department(self, error: str | None = None) -> dict[str, Any]:
        rows = self.s.execute(
            select(Department.id, Department.name, Branch.name)
            .join(
                Branch,
                (Branch.tenant_id == Department.tenant_id) & (Branch.id == Department.branch_id),
            )
            .where(Department.tenant_id == self.tenant_id, Department.active.is_(True))
            .order_by(Branch.name, Department.name)
            .limit(MAX_OPTIONS)
        ).all()
        several = len({branch for _, _, branch in rows}) > 1
        items = [
            {"id": str(d_id), "title": f"{name} · {branch}" if several else name}
            for d_id, name, branch in rows
        ]
        return _screen("DEPARTMENT", {"departments": items}, error)

    def doctor(self, state: dict[str, Any], error: str | None = None) -> dict[str, Any]:
        dept = access_department(self.s, self.actor, int(state["department_id"]))
        rows = self.s.execute(
            select(Doctor.id, Doctor.full_name, Doctor.specialization)
            .join(
                DoctorBranch,
                (DoctorBranch.tenant_id == Doctor.tenant_id)
                & (DoctorBranch.doctor_id == Doctor.id),
            )
            .where(
                Doctor.tenant_id == self.tenant_id,
                Doctor.department_id == dept.id,
                Doctor.active.is_(True),
                DoctorBranch.branch_id == dept.branch_id,
            )
            .order_by(Doctor.full_name)
            .limit(MAX_OPTIONS)
        ).all()
        doctors = [{"id": str(i), "title": n, "description": sp} for i, n, sp in rows]
        if not doctors:
            return self.department(f"No doctor in {dept.name} takes bookings yet")
        today = self.actor.clock().astimezone(self._zone(dept.branch_id)).date()
        dates = [today + dt.timedelta(days=n) for n in range(DAYS_AHEAD)]
        days = [{"id": d.isoformat(), "title": d.strftime("%a %d %b")} for d in dates]
        return _screen(
            "DOCTOR", {"department": dept.name, "doctors": doctors, "dates": days}, error
        )

    def slot(self, state: dict[str, Any], error: str | None = None) -> dict[str, Any]:
        doctor = access_doctor(self.s, self.actor, int(state["doctor_id"]))
        on_date = dt.date.fromisoformat(str(state["date"]))
        slots = available_slots(
            self.s,
            self.actor,
            doctor_id=doctor.id,
            on_date=on_date,
            branch_id=int(state["branch_id"]),
        )
        if not slots:
            return self.doctor(state, f"{doctor.full_name} has no free slot on {on_date:%a %d %b}")
        items = [{"id": s.start.isoformat(), "title": s.label} for s in slots[:MAX_OPTIONS]]
        data = {"doctor": doctor.full_name, "day": on_date.strftime("%a %d %b"), "slots": items}
        return _screen("SLOT", data, error)

    def back_from(self, state: dict[str, Any]) -> dict[str, Any]:
        current = str(state.get("screen") or "DEPARTMENT")
        if current == "SLOT":
            return self.doctor(state)
        return self.department()

    def submit(self, state: dict[str, Any], screen: str, data: Mapping[str, Any]) -> dict[str, Any]:
        try:
            if screen == "DEPARTMENT":
                dept = access_department(self.s, self.actor, _int(data, "department"))
                state.update(department_id=dept.id, branch_id=dept.branch_id)
                return self.doctor(state)
            if screen == "DOCTOR":
                doctor = access_doctor(self.s, self.actor, _int(data, "doctor"))
                if doctor.department_id != state.get("department_id"):
                    raise NotFound("Doctor not found")
                state.update(doctor_id=doctor.id, date=_date(data, "date").isoformat())
                return self.slot(state)
            if screen == "SLOT":
                return self._finish(state, _instant(data, "slot"))
        except NotFound:
            return self.department("That choice is not available; please choose again")
        raise ValidationFailed(f"Unknown screen {screen!r}", field="screen")

    def _finish(self, state: dict[str, Any], start: dt.datetime) -> dict[str, Any]:
        token_value = str(state["token"])
        params: dict[str, Any] = {
            "flow_token": token_value,
            "doctor_id": state["doctor_id"],
            "branch_id": state["branch_id"],
            "slot_start": start.isoformat(),
        }
        patient_id = state.get("patient_id")
        if patient_id is None:  # the conversation books once it knows who the patient is
            return _success(params)
        try:
            appt = book_appointment(
                self.s,
                self.actor,
                doctor_id=int(state["doctor_id"]),
                patient_id=int(patient_id),
                slot_start=start,
                branch_id=int(state["branch_id"]),
                source="whatsapp",
                idempotency_key="flow:" + hashlib.sha256(token_value.encode()).hexdigest()[:40],
            )
        except SlotTaken:
            return self.slot(state, "That slot was just taken; please pick another")
        except (DoctorNotAvailable, Conflict, ValidationFailed) as exc:
            return self.slot(state, _message(exc))
        params["appointment_id"] = appt.id
        return _success(params)

    def _zone(self, branch_id: int) -> Any:
        return tenant_timezone(self.s, self.tenant_id, self.s.get(Branch, branch_id))


def _screen(name: str, data: dict[str, Any], error: str | None) -> dict[str, Any]:
    if error:
        data = {**data, "error_message": error}
    return {"screen": name, "data": data}


def _success(params: dict[str, Any]) -> dict[str, Any]:
    return {"screen": "SUCCESS", "data": {"extension_message_response": {"params": params}}}


def _message(exc: DomainError) -> str:
    return exc.message


def _int(data: Mapping[str, Any], key: str) -> int:
    try:
        return int(str(data[key]))
    except (KeyError, ValueError) as exc:
        raise ValidationFailed(f"Choose a {key}", field=key) from exc


def _date(data: Mapping[str, Any], key: str) -> dt.date:
    try:
        return dt.date.fromisoformat(str(data[key]))
    except (KeyError, ValueError) as exc:
        raise ValidationFailed("Choose a day", field=key) from exc


def _instant(data: Mapping[str, Any], key: str) -> dt.datetime:
    try:
        value = dt.datetime.fromisoformat(str(data[key]))
    except (KeyError, ValueError) as exc:
        raise ValidationFailed("Choose a time", field=key) from exc
    if value.tzinfo is None:
        raise ValidationFailed("Choose a time", field=key)
    return value


def _conversation(session: Session, tenant_id: int, contact_key: str) -> ConversationSession | None:
    return session.scalars(
        select(ConversationSession).where(
            ConversationSession.tenant_id == tenant_id,
            ConversationSession.contact_key == contact_key,
        )
    ).one_or_none()


def _save(session: Session, row: ConversationSession, flow: dict[str, Any]) -> None:
    """Write ``data["flow"]`` by compare-and-set on ``version`` (the conversation writes too)."""
    data = {**(row.data or {}), "flow": flow}
    result = cast(
        CursorResult[Any],
        session.execute(
            update(ConversationSession)
            .where(
                ConversationSession.tenant_id == row.tenant_id,
                ConversationSession.id == row.id,
                ConversationSession.version == row.version,
            )
            .values(data=data, version=row.version + 1)
            .execution_options(synchronize_session=False)
        ),
    )
    if result.rowcount != 1:
        raise Conflict("The conversation changed meanwhile; try again")
    session.expire(row)
