"""What every BI query shares: the filter, the resolved scope, the result table and the cache.

A ``BIFilter`` is what a page passes (dates in the clinic's wall clock, optional branch,
department and doctor); ``resolve`` checks it against the actor's clinic (another clinic's
branch, department or doctor is ``NotFound``) and turns it into a ``Scope`` with the tenant,
the zone and the UTC bounds. Every KPI returns a ``KpiTable``: named columns and plain rows, so a
page can chart it, the CSV export can write it and the PDF can print it without knowing which
KPI it is.

Local hours and dates are computed in the database: PostgreSQL converts with ``timezone()``;
SQLite shifts by the zone's UTC offset at the start of the range (exact for Indian clinics,
which have no daylight saving).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Integer, cast, func, select
from sqlalchemy.orm import Session

from core.auth.permissions import require
from core.context import Actor, tenant_of
from core.errors import ValidationFailed
from core.scheduling.doctors import access_doctor
from core.tenancy import access_branch, access_department, tenant_timezone
from db.models import Branch, Doctor, QueueEvent

MAX_SPAN_DAYS = 400
CACHE_SECONDS = 60
Cell = str | int | float | dt.date | dt.datetime | None


@dataclass(frozen=True)
class BIFilter:
    """Dates (inclusive, local) and optional branch, department and doctor to narrow a KPI."""

    start: dt.date
    end: dt.date
    branch_id: int | None = None
    department_id: int | None = None
    doctor_id: int | None = None

    @classmethod
    def last_days(cls, today: dt.date, days: int = 30, **narrow: int | None) -> BIFilter:
        """The ``days`` days ending with ``today`` (inclusive)."""
        return cls(today - dt.timedelta(days=days - 1), today, **narrow)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


@dataclass(frozen=True)
class KpiTable:
    """One KPI's answer: ``columns`` name the cells of each row; ``question`` is what it answers.

    ``summary`` holds headline figures (e.g. totals, the MAE) that belong above the table.
    """

    name: str
    question: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    summary: dict[str, Cell] = field(default_factory=dict)
    note: str = ""

    def records(self) -> list[dict[str, Cell]]:
        """The rows as dicts keyed by column (what ``pandas.DataFrame`` and plotly take)."""
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]

    def column(self, name: str) -> list[Cell]:
        index = self.columns.index(name)
        return [row[index] for row in self.rows]


@dataclass(frozen=True)
class Scope:
    """A filter checked against the actor's clinic, with the zone and UTC bounds of its dates."""

    tenant_id: int
    filter: BIFilter
    zone: ZoneInfo
    start_utc: dt.datetime
    end_utc: dt.datetime  # exclusive: local midnight after ``filter.end``
    dialect: str

    @property
    def offset_minutes(self) -> int:
        offset = self.start_utc.astimezone(self.zone).utcoffset() or dt.timedelta()
        return int(offset.total_seconds() // 60)

    def local_hour(self, column: Any) -> ColumnElement[int]:
        """The local wall-clock hour (0-23) of a UTC timestamp column, in SQL."""
        if self.dialect == "postgresql":
            return cast(func.extract("hour", func.timezone(self.zone.key, column)), Integer)
        return cast(func.strftime("%H", column, f"{self.offset_minutes:+d} minutes"), Integer)

    def local_date(self, column: Any) -> ColumnElement[Any]:
        """The local date of a UTC timestamp column, in SQL (a string on SQLite)."""
        if self.dialect == "postgresql":
            return func.date(func.timezone(self.zone.key, column))
        return func.date(column, f"{self.offset_minutes:+d} minutes")

    def weekday(self, date_column: Any) -> ColumnElement[int]:
        """Monday = 0 … Sunday = 6 of a DATE column, in SQL."""
        if self.dialect == "postgresql":
            return cast(func.extract("isodow", date_column), Integer) - 1
        return (cast(func.strftime("%w", date_column), Integer) + 6) % 7

    def minutes(self, later: Any, earlier: Any) -> ColumnElement[Any]:
        """Minutes from ``earlier`` to ``later`` (two timestamp columns), in SQL."""
        if self.dialect == "postgresql":
            return func.extract("epoch", later - earlier) / 60.0
        return (func.julianday(later) - func.julianday(earlier)) * 1440.0


def as_date(value: Any) -> dt.date:
    """A date from SQL (PostgreSQL gives a date, SQLite a string)."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


def resolve(
    session: Session, actor: Actor, f: BIFilter, *, permission: str = "report.read"
) -> Scope:
    """Check the actor may read reports and that every id in ``f`` is of their clinic."""
    require(actor, permission)
    tenant_id = tenant_of(session, actor)
    if f.end < f.start:
        raise ValidationFailed("The end date is before the start date", field="end")
    if f.days > MAX_SPAN_DAYS:
        raise ValidationFailed(f"Choose at most {MAX_SPAN_DAYS} days", field="start")
    branch = access_branch(session, actor, f.branch_id) if f.branch_id is not None else None
    if f.department_id is not None:
        department = access_department(session, actor, f.department_id)
        if branch is not None and department.branch_id != branch.id:
            raise ValidationFailed("That department is not at this branch", field="department")
    if f.doctor_id is not None:
        doctor = access_doctor(session, actor, f.doctor_id)
        if f.department_id is not None and doctor.department_id != f.department_id:
            raise ValidationFailed("That doctor is not in this department", field="doctor")
    if branch is None:
        branch = session.scalars(
            select(Branch).where(Branch.tenant_id == tenant_id).order_by(Branch.id).limit(1)
        ).first()
    zone = tenant_timezone(session, tenant_id, branch)
    start = dt.datetime.combine(f.start, dt.time(), zone).astimezone(dt.UTC)
    end = dt.datetime.combine(f.end + dt.timedelta(days=1), dt.time(), zone).astimezone(dt.UTC)
    return Scope(tenant_id, f, zone, start, end, session.get_bind().dialect.name)


def narrow(scope: Scope, model: Any, *, branch: bool = True) -> list[ColumnElement[bool]]:
    """The tenant, branch, department and doctor conditions for a model with those columns.

    Models without ``department_id`` are narrowed to a department through their doctor.
    """
    f = scope.filter
    where: list[ColumnElement[bool]] = [model.tenant_id == scope.tenant_id]
    if branch and f.branch_id is not None:
        where.append(model.branch_id == f.branch_id)
    if f.doctor_id is not None:
        where.append(model.doctor_id == f.doctor_id)
    if f.department_id is not None:
        if hasattr(model, "department_id"):
            where.append(model.department_id == f.department_id)
        else:
            where.append(
                model.doctor_id.in_(
                    select(Doctor.id).where(
                        Doctor.tenant_id == scope.tenant_id,
                        Doctor.department_id == f.department_id,
                    )
                )
            )
    return where


def doctor_names(session: Session, tenant_id: int) -> dict[int, str]:
    rows = session.execute(
        select(Doctor.id, Doctor.full_name).where(Doctor.tenant_id == tenant_id)
    ).all()
    return {doctor_id: name for doctor_id, name in rows}


def days_of(f: BIFilter) -> list[dt.date]:
    return [f.start + dt.timedelta(days=n) for n in range(f.days)]


class KpiCache:
    """Results keyed by tenant, KPI, filter, the tenant's latest queue event id and the minute.

    A new queue event (a token issued, called, finished…) changes the key at once; the minute
    bucket bounds staleness for changes that write no queue event (payments, ratings) to one
    minute. Thread-safe; holds at most ``limit`` entries (oldest dropped first).
    """

    def __init__(self, limit: int = 512) -> None:
        self._items: dict[tuple[Any, ...], Any] = {}
        self._lock = threading.Lock()
        self._limit = limit

    def get_or_compute(
        self,
        session: Session,
        actor: Actor,
        name: str,
        key: Sequence[Any],
        compute: Callable[[], Any],
    ) -> Any:
        tenant_id = tenant_of(session, actor)
        latest = session.scalar(
            select(func.max(QueueEvent.id)).where(QueueEvent.tenant_id == tenant_id)
        )
        minute = int(actor.clock().timestamp() // CACHE_SECONDS)
        full = (tenant_id, name, tuple(key), latest, minute)
        with self._lock:
            if full in self._items:
                return self._items[full]
        value = compute()
        with self._lock:
            self._items[full] = value
            while len(self._items) > self._limit:
                self._items.pop(next(iter(self._items)))
        return value

    def daily(self, key: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
        """A value that changes once a day (the no-show model fitted on the days before
        today): kept under ``key`` (the tenant, the name, and the day last), computed once;
        storing a new day's value drops the earlier day's."""
        full = ("daily", *key)
        with self._lock:
            if full in self._items:
                return self._items[full]
        value = compute()
        with self._lock:
            for stale in [k for k in self._items if k[:-1] == full[:-1]]:
                del self._items[stale]  # an earlier day's value: never read again
            self._items[full] = value
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


def cached(
    cache: KpiCache | None,
    session: Session,
    actor: Actor,
    name: str,
    key: Sequence[Any],
    compute: Callable[[], Any],
) -> Any:
    """Compute through ``cache`` when one is given (the permission check runs either way)."""
    if cache is None:
        return compute()
    return cache.get_or_compute(session, actor, name, key, compute)
