"""Which doctor gets a token issued to a department rather than a named doctor.

Strategies, chosen per department (``Department.allocation_strategy``):

* ``pool`` — nobody yet: the token waits in the department pool and the first doctor of the
  department to call next takes it (ETAs spread the pool across the on-duty doctors).
* ``round_robin`` — the on-duty doctor after the one allocated the department's previous token,
  in doctor-id order (tokens issued to a named doctor do not move the rotation).
* ``least_busy`` — fewest tokens on hand (waiting for them, called or in consultation).
* ``shortest_wait`` — the shortest expected wait: time left on the current consultation, pause
  and delay, plus their queue at their own rolling average.
* ``performance_weighted`` — shares proportional to ``Doctor.performance_weight`` over the day
  (a doctor with weight 2 gets about twice the tokens of a doctor with weight 1).

Allocation runs after the department's day counter is locked (see ``tokens.issue_token``), so
concurrent issuers see each other's choices and the shares stay exact. Paused doctors are
skipped unless everybody is paused. Ties go to the lowest doctor id, so results are repeatable.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.queue.eta_projection import doctor_free_minutes
from core.queue.line import DoctorState
from core.queue.place import QueuePlace
from db.models import QueueToken

STRATEGIES = ("pool", "round_robin", "least_busy", "shortest_wait", "performance_weighted")


def choose_doctor(
    session: Session,
    tenant_id: int,
    place: QueuePlace,
    day: dt.date,
    now: dt.datetime,
    roster: Sequence[DoctorState],
) -> int | None:
    """Return the doctor a new department token goes to, or None to leave it in the pool."""
    strategy = place.allocation_strategy
    if strategy == "pool" or strategy not in STRATEGIES:
        return None
    available = [s for s in roster if s.session_status != "paused"] or list(roster)
    if not available:
        return None
    if strategy == "round_robin":
        return _round_robin(session, tenant_id, place.department_id, day, available)
    if strategy == "least_busy":
        return min(available, key=lambda s: (s.busy, s.doctor_id)).doctor_id
    if strategy == "performance_weighted":
        return min(available, key=lambda s: (_weighted_share(s), s.doctor_id)).doctor_id
    return min(available, key=lambda s: (expected_wait(s, now), s.doctor_id)).doctor_id


def expected_wait(state: DoctorState, now: dt.datetime) -> float:
    """Minutes until a token given to this doctor now would be called (EWT arithmetic)."""
    current, pause, delay = doctor_free_minutes(state, now)
    return current + pause + delay + (state.called + state.waiting) * state.avg_minutes


def _weighted_share(state: DoctorState) -> float:
    """Tokens the doctor would have per unit of weight after taking one more."""
    return (state.assigned_today + 1) / max(state.performance_weight, 0.01)


def _round_robin(
    session: Session,
    tenant_id: int,
    department_id: int,
    day: dt.date,
    available: Sequence[DoctorState],
) -> int:
    """The next doctor by id after the one allocated the department's latest token today."""
    last = session.scalar(
        select(QueueToken.doctor_id)
        .where(
            QueueToken.tenant_id == tenant_id,
            QueueToken.department_id == department_id,
            QueueToken.service_date == day,
            QueueToken.allocated_by.is_not(None),
        )
        .order_by(QueueToken.number.desc())
        .limit(1)
    )
    ids = sorted(s.doctor_id for s in available)
    later = [i for i in ids if last is not None and i > last]
    return later[0] if later else ids[0]
