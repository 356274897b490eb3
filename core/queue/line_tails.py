"""Where a walk-in joining each line now would stand, as a department's last projection saw it.

``core.queue.eta_projection.simulate`` ends with each on-duty doctor's ``Tail``; the projector
stores them with the projection (``queue_projections.line_tails``, 0026) and ``queue_place``
reads them back with the department, so token issue can give the new token its ETA
(``eta_projection.tail_estimate``) without reading and projecting the whole line again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Tail:
    """A doctor once the projected line is exhausted: when a walk-in joining now is called.

    ``free_minutes`` (raw, before the learned bias) from the projection's ``now``; ``served``
    patients and ``pending`` consultations come before that call. The ETA given at issue is
    read from these (``tail_estimate``) instead of projecting the whole line again.
    """

    doctor_id: int
    department_id: int
    free_minutes: float
    avg_minutes: float
    served: int
    pending: float
    sd_minutes: float
    # the parts of the wait that pass with the clock: the consultation in progress, pause and
    # announced delay left at the projection (``doctor_free_minutes``); called patients do not
    timed: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def as_list(self) -> list[float]:
        return [
            self.doctor_id,
            self.department_id,
            round(self.free_minutes, 4),
            round(self.avg_minutes, 4),
            self.served,
            self.pending,
            round(self.sd_minutes, 4),
            *(round(x, 4) for x in self.timed),
        ]

    @classmethod
    def from_list(cls, raw: Sequence[float]) -> Tail:
        d, dept, free, avg, served, pending, sd, current, pause, delay = raw
        timed = (float(current), float(pause), float(delay))
        return cls(
            int(d), int(dept), float(free), float(avg), int(served), float(pending), sd, timed
        )

    def passed(self, minutes: float) -> float:
        """How much sooner the doctor is free ``minutes`` after the projection."""
        return sum(min(part, max(minutes, 0.0)) for part in self.timed)


@dataclass(frozen=True)
class LineTails:
    """What a projection knows of a walk-in joining its department's lines (stored, 0026).

    ``day`` and ``at`` are the projection's service day and time, ``newest`` the newest token
    id its line read: a token with a higher id was issued after it and stands ahead of a walk-in
    joining now.
    """

    day: dt.date
    at: dt.datetime
    newest: int
    tails: Mapping[int, Tail]

    def as_json(self) -> dict[str, Any]:
        return {
            "day": self.day.isoformat(),
            "at": self.at.isoformat(),
            "newest": self.newest,
            "doctors": [t.as_list() for t in self.tails.values()],
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any] | None) -> LineTails | None:
        """Parse a stored value; None when absent or not understood (the full path then)."""
        if not raw:
            return None
        try:
            tails = [Tail.from_list(t) for t in raw["doctors"]]
            return cls(
                dt.date.fromisoformat(raw["day"]),
                dt.datetime.fromisoformat(raw["at"]),
                int(raw["newest"]),
                {t.doctor_id: t for t in tails},
            )
        except (KeyError, TypeError, ValueError):
            return None
