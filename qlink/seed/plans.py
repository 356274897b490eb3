"""Shapes shared by the history simulation: a doctor's plan and one simulated visit."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class DayWindow:
    start: int  # minutes after midnight
    end: int
    slot: int
    breaks: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class DoctorPlan:
    index: int
    dept: str
    daily: int
    windows: dict[int, tuple[DayWindow, ...]]  # weekday -> windows
    leave: frozenset[dt.date]


@dataclass
class Visit:
    """One appointment and/or queue token of one patient with one doctor on one day."""

    doctor: int
    patient: int  # index into the clinic's patient list
    day: dt.date
    visit_type: str = "new"
    slot: tuple[int, int] | None = None  # booked slot start/end
    appt_status: str | None = None  # completed | no_show | cancelled
    booked_lead: int = 0  # minutes between booking and slot start
    source: str = "reception"
    kind: str | None = None  # token kind; None = no token
    token_status: str | None = None  # done | missed
    issued: float = 0.0
    called: float | None = None
    started: float | None = None
    finished: float | None = None
    eta: float | None = None
    number: int = 0
    cancelled_before: float = 0.0  # minutes before the slot the booking was cancelled
