"""The reception calendar: a branch's doctors × the day's slot times, with the waiting list.

Built on the day board (``day_view.day_board``: free slots and booked seats per doctor) and the
waiting list (``waitlist.waitlist_day``); adds the grid shape a desk clicks on (one cell per
doctor and slot time, holding that time's booked seats and whether a seat is free) and the
clinic's overbooking rule. A read model: frozen dataclasses only.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from core.auth.permissions import require
from core.context import Actor, tenant_of
from core.scheduling.booking_rules import booking_rules
from core.scheduling.day_view import FREE, BoardRow, DayBoard, DoctorDay, day_board
from core.scheduling.waitlist import WaitingRow, waitlist_day


@dataclass(frozen=True)
class Cell:
    """One doctor at one slot time: its booked seats, and whether a seat is still free."""

    doctor_id: int
    start: dt.datetime
    label: str
    booked: tuple[BoardRow, ...]
    seats_left: int
    past: bool
    offer: WaitingRow | None = None

    @property
    def free(self) -> bool:
        """Return whether a seat can be booked (free and not started)."""
        return self.seats_left > 0 and not self.past

    @property
    def full(self) -> bool:
        """Return whether every seat is held (only then may reception overbook)."""
        return self.seats_left == 0 and bool(self.booked) and not self.past


@dataclass(frozen=True)
class DayCalendar:
    """All working doctors of a branch on one date, as a grid of slot times."""

    board: DayBoard
    times: tuple[str, ...]
    cells: dict[tuple[int, str], Cell] = field(hash=False)
    overbook_allowed: bool
    waiting: tuple[WaitingRow, ...]

    @property
    def doctors(self) -> tuple[DoctorDay, ...]:
        return self.board.doctors

    def cell(self, doctor_id: int, label: str) -> Cell | None:
        """Return the doctor's cell at ``label`` (HH:MM), or None when they do not work then."""
        return self.cells.get((doctor_id, label))


def day_calendar(
    session: Session, actor: Actor, *, branch_id: int, on_date: dt.date
) -> DayCalendar:
    """Return the branch's day as a doctors × times grid with the waiting list and its offers."""
    require(actor, "appointment.read")
    tenant_id = tenant_of(session, actor)
    board = day_board(session, actor, branch_id=branch_id, on_date=on_date)
    waiting = waitlist_day(session, actor, branch_id=branch_id, on_date=on_date)
    offers = {(w.offer_doctor_id, w.offer_slot): w for w in waiting if w.offer_id is not None}
    cells: dict[tuple[int, str], Cell] = {}
    for day in board.doctors:
        for label, rows in _by_time(day.rows).items():
            first = rows[0]
            cells[(day.doctor_id, label)] = Cell(
                doctor_id=day.doctor_id,
                start=first.start,
                label=label,
                booked=tuple(r for r in rows if r.status != FREE),
                seats_left=sum(r.seats_left for r in rows if r.status == FREE),
                past=first.past,
                offer=offers.get((day.doctor_id, first.start)),
            )
    times = tuple(sorted({label for _, label in cells}))
    rules = booking_rules(session, tenant_id)
    return DayCalendar(board, times, cells, rules.overbook_allowed, waiting)


def _by_time(rows: tuple[BoardRow, ...]) -> dict[str, list[BoardRow]]:
    found: dict[str, list[BoardRow]] = defaultdict(list)
    for row in rows:
        found[row.label].append(row)
    return found
