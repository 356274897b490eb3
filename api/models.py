"""Request and response models of ``/api/v1``; the OpenAPI document is generated from them."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

MAX_ID = 2**63 - 1
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
STATUSES = ("scheduled", "checked_in", "in_consultation", "completed", "cancelled", "no_show")
Status = Literal["scheduled", "checked_in", "in_consultation", "completed", "cancelled", "no_show"]


def _printable(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PatientIn(_Model):
    """Who the appointment is for; matched to the clinic's patient by phone and name."""

    name: Annotated[str, Field(min_length=2, max_length=200)]
    phone: Annotated[str, Field(min_length=6, max_length=20, examples=["+919812345678"])]
    age: Annotated[int | None, Field(ge=0, le=120)] = None

    _clean = field_validator("name", "phone")(_printable)


class BookingIn(_Model):
    """A booking of a free slot (from ``/slots/availability``)."""

    doctor_id: Id
    branch_id: Id | None = None
    slot_start: AwareDatetime
    visit_type: Literal["new", "follow_up"] = "new"
    patient: PatientIn


class CancelIn(_Model):
    reason: Annotated[str, Field(min_length=1, max_length=200)]

    _clean = field_validator("reason")(_printable)


class RescheduleIn(_Model):
    slot_start: AwareDatetime


class SlotOut(_Model):
    start: AwareDatetime
    end: AwareDatetime
    local_start: Annotated[str, Field(description="wall-clock start at the branch, HH:MM")]
    seats_left: Annotated[int, Field(ge=0)]


class AvailabilityOut(_Model):
    doctor_id: Id
    branch_id: Id
    date: dt.date
    slots: list[SlotOut]


class BookingOut(_Model):
    id: Id
    status: Status
    doctor_id: Id
    doctor_name: str
    branch_id: Id
    slot_start: AwareDatetime
    slot_end: AwareDatetime
    created_at: AwareDatetime
    cancel_reason: str | None


class ErrorBody(_Model):
    code: str
    message: str
    field: str | None = None


class ErrorOut(_Model):
    error: ErrorBody
    alternatives: list[SlotOut] | None = None


MODELS: tuple[type[BaseModel], ...] = (
    PatientIn,
    BookingIn,
    CancelIn,
    RescheduleIn,
    SlotOut,
    AvailabilityOut,
    BookingOut,
    ErrorBody,
    ErrorOut,
)
