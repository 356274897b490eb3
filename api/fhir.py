"""FHIR R4 reads under ``/fhir``: ``Schedule`` (a doctor at a branch), ``Slot`` (free slots) and
``Appointment`` (the key's bookings), same API keys, limits and CORS as ``/api/v1``.

Resources are built as dicts and validated with ``fhir.resources`` (its R4B models: Schedule,
Slot and Appointment are unchanged from R4), then served as ``application/fhir+json``. A schedule
id is ``<doctor>-<branch>``; a slot id adds the start's epoch seconds. Patients are never named.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from fhir.resources.R4B.appointment import Appointment
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.schedule import Schedule
from fhir.resources.R4B.slot import Slot as FhirSlot
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.models import MAX_ID
from api.v1 import call, domain_response
from core.context import Actor
from core.errors import DomainError, NotFound, ValidationFailed
from core.partners import bookings
from core.scheduling.slots import Slot
from core.scheduling.web_booking import DAYS_AHEAD, DoctorChoice
from db.models import ApiClient

FHIR_JSON = "application/fhir+json"
# QLink appointment status -> FHIR R4 AppointmentStatus (platform notes C.3d)
APPOINTMENT_STATUS = {
    "scheduled": "booked",
    "checked_in": "checked-in",
    "in_consultation": "checked-in",
    "completed": "fulfilled",
    "cancelled": "cancelled",
    "no_show": "noshow",
}
_SCHEDULE = re.compile(r"^(?:Schedule/)?([1-9][0-9]{0,17})-([1-9][0-9]{0,17})$")


def _validated(model: Any, data: dict[str, Any]) -> dict[str, Any]:
    """Validate ``data`` with a fhir.resources model; return its FHIR JSON."""
    return json.loads(model.model_validate(data).model_dump_json())  # type: ignore[no-any-return]


def _bundle(resources: list[dict[str, Any]]) -> dict[str, Any]:
    entries = [
        {"fullUrl": f"{r['resourceType']}/{r['id']}", "resource": r, "search": {"mode": "match"}}
        for r in resources
    ]
    data = {"resourceType": "Bundle", "type": "searchset", "total": len(entries)}
    return _validated(Bundle, {**data, "entry": entries} if entries else data)


def schedule_resource(doctor: DoctorChoice, branch_id: int, today: dt.date) -> dict[str, Any]:
    """A doctor's bookable schedule at one branch."""
    return _validated(
        Schedule,
        {
            "resourceType": "Schedule",
            "id": f"{doctor.id}-{branch_id}",
            "active": True,
            "specialty": [{"text": doctor.specialization}],
            "actor": [
                {"reference": f"Practitioner/{doctor.id}", "display": doctor.name},
                {"reference": f"Location/{branch_id}"},
            ],
            "planningHorizon": {
                "start": today.isoformat(),
                "end": (today + dt.timedelta(days=DAYS_AHEAD)).isoformat(),
            },
        },
    )


def slot_resource(doctor_id: int, branch_id: int, slot: Slot) -> dict[str, Any]:
    """One free slot of a schedule."""
    return _validated(
        FhirSlot,
        {
            "resourceType": "Slot",
            "id": f"{doctor_id}-{branch_id}-{int(slot.start.timestamp())}",
            "schedule": {"reference": f"Schedule/{doctor_id}-{branch_id}"},
            "status": "free",
            "start": slot.start.isoformat(),
            "end": slot.end.isoformat(),
            "overbooked": False,
        },
    )


def appointment_resource(view: bookings.BookingView) -> dict[str, Any]:
    """A partner's booking; the practitioner and location, never the patient."""
    status = APPOINTMENT_STATUS[view.status]
    data: dict[str, Any] = {
        "resourceType": "Appointment",
        "id": str(view.appointment_id),
        "status": status,
        "start": view.slot_start.isoformat(),
        "end": view.slot_end.isoformat(),
        "created": view.created_at.isoformat(),
        "participant": [
            {
                "actor": {
                    "reference": f"Practitioner/{view.doctor_id}",
                    "display": view.doctor_name,
                },
                "required": "required",
                "status": "accepted",
            },
            {
                "actor": {"reference": f"Location/{view.branch_id}"},
                "required": "required",
                "status": "accepted",
            },
        ],
    }
    if view.cancel_reason:
        data["cancelationReason"] = {"text": view.cancel_reason}
    return _validated(Appointment, data)


def _schedules(session: Session, actor: Actor) -> list[dict[str, Any]]:
    directory = bookings.partner_directory(session, actor)
    live = {b.id for b in directory.branches if b.mode == "live"}
    today = actor.clock().date()
    return [
        schedule_resource(doctor, branch_id, today)
        for doctor in directory.doctors
        for branch_id in doctor.branch_ids
        if branch_id in live
    ]


async def search_schedules(request: Request) -> Response:
    """GET /fhir/Schedule: a Bundle of every live doctor-at-branch schedule."""

    def op(session: Session, actor: Actor, _client: ApiClient) -> dict[str, Any]:
        return _bundle(_schedules(session, actor))

    return await call(request, op, readonly=True, media_type=FHIR_JSON)


async def read_schedule(request: Request) -> Response:
    """GET /fhir/Schedule/{id}"""
    wanted = request.path_params["schedule_id"]

    def op(session: Session, actor: Actor, _client: ApiClient) -> dict[str, Any]:
        for resource in _schedules(session, actor):
            if resource["id"] == wanted:
                return resource
        raise NotFound("Schedule not found")

    return await call(request, op, readonly=True, media_type=FHIR_JSON)


async def search_slots(request: Request) -> Response:
    """GET /fhir/Slot?schedule=Schedule/<doctor>-<branch>&start=YYYY-MM-DD (free slots)."""
    try:
        doctor_id, branch_id = _schedule_ref(request.query_params.get("schedule"))
        on_date = _start(request.query_params.get("start"))
    except DomainError as exc:
        return domain_response(exc)

    def op(session: Session, actor: Actor, _client: ApiClient) -> dict[str, Any]:
        slots = bookings.partner_availability(
            session, actor, doctor_id=doctor_id, on_date=on_date, branch_id=branch_id
        )
        return _bundle([slot_resource(doctor_id, branch_id, s) for s in slots])

    return await call(request, op, readonly=True, media_type=FHIR_JSON)


async def read_appointment(request: Request) -> Response:
    """GET /fhir/Appointment/{id}: one booking this key made."""
    raw = request.path_params["appointment_id"]
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_ID:
        return domain_response(NotFound("Appointment not found"))

    def op(session: Session, actor: Actor, client: ApiClient) -> dict[str, Any]:
        view = bookings.partner_booking(
            session, actor, client_id=client.id, appointment_id=int(raw)
        )
        return appointment_resource(view)

    return await call(request, op, readonly=True, media_type=FHIR_JSON)


async def search_appointments(request: Request) -> Response:
    """GET /fhir/Appointment: a Bundle of the bookings this key made, newest first."""

    def op(session: Session, actor: Actor, client: ApiClient) -> dict[str, Any]:
        views = bookings.partner_bookings(session, actor, client_id=client.id)
        return _bundle([appointment_resource(v) for v in views])

    return await call(request, op, readonly=True, media_type=FHIR_JSON)


def _schedule_ref(raw: str | None) -> tuple[int, int]:
    match = _SCHEDULE.match(raw or "")
    if match is None:
        raise ValidationFailed("schedule must be Schedule/<doctor>-<branch>", field="schedule")
    return int(match[1]), int(match[2])


def _start(raw: str | None) -> dt.date:
    value = (raw or "").removeprefix("eq")
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise ValidationFailed("start must be a date, YYYY-MM-DD", field="start") from exc


routes = [
    Route("/fhir/Schedule", search_schedules, methods=["GET"]),
    Route("/fhir/Schedule/{schedule_id}", read_schedule, methods=["GET"]),
    Route("/fhir/Slot", search_slots, methods=["GET"]),
    Route("/fhir/Appointment", search_appointments, methods=["GET"]),
    Route("/fhir/Appointment/{appointment_id}", read_appointment, methods=["GET"]),
]
