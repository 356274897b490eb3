"""The OpenAPI 3.1 document of ``/api/v1``, built from the pydantic models (no hand-kept copy)."""

from __future__ import annotations

import functools
from typing import Any

from pydantic.json_schema import models_json_schema

from api.models import MAX_ID, MODELS

REF = "#/components/schemas/{model}"
IDEMPOTENCY_KEY = r"^[A-Za-z0-9_.:-]{1,80}$"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF.format(model=name)}


def _json(name: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(name)}}}


def _errors(*statuses: int) -> dict[str, Any]:
    told = {
        401: "missing, invalid or revoked API key",
        404: "no such doctor, branch or booking for this key's clinic",
        409: "slot taken (with alternatives), a changed booking, or a reused Idempotency-Key",
        422: "invalid input",
        429: "rate limit reached; see Retry-After",
    }
    return {str(s): _json("ErrorOut", told[s]) for s in (401, 429, *statuses)}


def _id_param(name: str, where: str, description: str, *, required: bool = True) -> dict[str, Any]:
    return {
        "name": name,
        "in": where,
        "required": required,
        "description": description,
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
    }


def _body(name: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": _ref(name)}}}


def _paths() -> dict[str, Any]:
    booking_id = _id_param("booking_id", "path", "the booking's id")
    return {
        "/slots/availability": {
            "get": {
                "operationId": "getAvailability",
                "summary": "Free slots of a doctor at a branch on a date (branch wall clock)",
                "parameters": [
                    _id_param("doctor_id", "query", "the doctor"),
                    _id_param("branch_id", "query", "the branch (must take live bookings)"),
                    {
                        "name": "date",
                        "in": "query",
                        "required": True,
                        "schema": {"type": "string", "format": "date"},
                    },
                ],
                "responses": {
                    "200": _json("AvailabilityOut", "free slots, earliest first"),
                    **_errors(404, 422),
                },
            }
        },
        "/bookings": {
            "post": {
                "operationId": "createBooking",
                "summary": "Book a free slot; retry safely with the same Idempotency-Key",
                "parameters": [
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "required": True,
                        "schema": {"type": "string", "pattern": IDEMPOTENCY_KEY},
                    }
                ],
                "requestBody": _body("BookingIn"),
                "responses": {
                    "201": _json("BookingOut", "booked"),
                    "200": _json("BookingOut", "replayed: this key already made this booking"),
                    **_errors(404, 409, 422),
                },
            }
        },
        "/bookings/{booking_id}": {
            "get": {
                "operationId": "getBooking",
                "summary": "A booking this key made, with its current status",
                "parameters": [booking_id],
                "responses": {"200": _json("BookingOut", "the booking"), **_errors(404, 422)},
            }
        },
        "/bookings/{booking_id}/cancel": {
            "post": {
                "operationId": "cancelBooking",
                "summary": "Cancel a scheduled booking (the patient is told over WhatsApp)",
                "parameters": [booking_id],
                "requestBody": _body("CancelIn"),
                "responses": {
                    "200": _json("BookingOut", "cancelled"),
                    **_errors(404, 409, 422),
                },
            }
        },
        "/bookings/{booking_id}/reschedule": {
            "post": {
                "operationId": "rescheduleBooking",
                "summary": "Move a scheduled booking to another free slot (a new booking id)",
                "parameters": [booking_id],
                "requestBody": _body("RescheduleIn"),
                "responses": {
                    "200": _json("BookingOut", "the new booking; the old one is cancelled"),
                    **_errors(404, 409, 422),
                },
            }
        },
    }


@functools.cache
def openapi_document() -> dict[str, Any]:
    """Return the OpenAPI 3.1 document (built once per process)."""
    _, defs = models_json_schema(
        [(m, "validation" if m.__name__.endswith("In") else "serialization") for m in MODELS],
        ref_template=REF,
    )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "QLink partner API",
            "version": "1.0.0",
            "description": (
                "Availability and bookings of one clinic. Authenticate with "
                "`Authorization: Bearer <key>` (a key from `qlink api-key create`)."
            ),
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"apiKey": []}],
        "paths": _paths(),
        "components": {
            "schemas": defs.get("$defs", {}),
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer"}},
        },
    }
