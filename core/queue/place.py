"""Where a queue lives: its department, branch, wall-clock zone and tenant weights."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.orm import Session

from core.errors import NotFound
from core.queue.eta_calibration import PRIOR, Calibration, ErrorBand
from core.queue.line_tails import LineTails
from core.queue.scoring import QueueRules, rules_from
from db.models import Branch, Department, Tenant
from db.models.queue import QueueProjection


@dataclass(frozen=True)
class QueuePlace:
    """A department's branch, token prefix, zone and the tenant's queue settings."""

    department_id: int
    department_code: str
    branch_id: int
    zone: ZoneInfo
    settings: dict[str, Any]
    department_settings: dict[str, Any] = field(default_factory=dict)
    allocation_strategy: str = "pool"
    tenant_status: str = "active"  # "suspended" refuses new tokens (core.plans)
    calibration: Calibration = PRIOR  # what the last projection learned (eta_calibration)
    tails: LineTails | None = None  # where a walk-in joining now stands (eta_projection)

    @property
    def rules(self) -> QueueRules:
        """The tenant's queue rules overridden by the department's."""
        return rules_from(self.settings, self.department_settings)

    def service_date(self, now: dt.datetime) -> dt.date:
        """Return the service day ``now`` falls on, on the branch's wall clock."""
        return now.astimezone(self.zone).date()


def place_query(*lead: Any) -> Select[Any]:
    """A department's place columns (after ``lead``), joined to its branch, tenant and calibration.

    Callers add the ``where`` (and may join another table to the department first).
    """
    return (
        select(
            *lead,
            Department.code,
            Department.branch_id,
            func.coalesce(Branch.timezone, Tenant.timezone),
            Tenant.settings,
            Department.queue_settings,
            Department.allocation_strategy,
            Tenant.status,
            QueueProjection.eta_bias,
            QueueProjection.eta_early,
            QueueProjection.eta_late,
            QueueProjection.line_tails,
        )
        .select_from(Department)
        .join(
            Branch, (Branch.tenant_id == Department.tenant_id) & (Branch.id == Department.branch_id)
        )
        .join(Tenant, Tenant.id == Department.tenant_id)
        .outerjoin(
            QueueProjection,
            (QueueProjection.tenant_id == Department.tenant_id)
            & (QueueProjection.department_id == Department.id),
        )
    )


_PLACE = place_query().where(
    Department.id == bindparam("dept"), Department.tenant_id == bindparam("t")
)


def queue_place(session: Session, tenant_id: int, department_id: int) -> QueuePlace:
    """Load a department of the tenant with its zone in one query, or raise ``NotFound``.

    The same query reads the ETA calibration its last projection stored, so a read-only
    projection (the ETA returned at issue) costs no extra statement.
    """
    params = {"dept": department_id, "t": tenant_id}
    row = session.connection().execute(_PLACE, params).first()
    if row is None:
        raise NotFound("Department not found")
    return place_from_row(department_id, tuple(row))


def place_from_row(department_id: int, row: Sequence[Any]) -> QueuePlace:
    """Build the place from the columns ``place_query`` reads (without its ``lead``)."""
    code, branch_id, zone, settings, dept_settings, strategy, status, bias, early, late, tails = row
    return QueuePlace(
        department_id,
        code,
        branch_id,
        ZoneInfo(zone),
        dict(settings or {}),
        dict(dept_settings or {}),
        strategy or "pool",
        status or "active",
        _calibration(bias, early, late),
        LineTails.from_json(tails),
    )


def _calibration(bias: float | None, early: float | None, late: float | None) -> Calibration:
    """The stored calibration of the department's last projection, or the prior."""
    if bias is None or early is None or late is None:
        return PRIOR
    band = ErrorBand(float(early), float(late), PRIOR.band.floor_minutes)
    return Calibration(float(bias), band)
