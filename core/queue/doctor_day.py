"""A doctor's working day at a branch: pause, resume and announced delays.

The ``doctor_sessions`` row for (doctor, branch, day) is created on first use with an upsert and
then changed by compare-and-set, so two desks toggling a pause at once cannot both win. Each
change appends its queue event and asks for the department's re-projection after commit
(``core.queue.projection.defer_refresh``: stored ETAs and shift intents follow in the
projector's own transaction; inline when the session has no projector). A delay also writes
one ``whatsapp.delay`` intent per waiting patient in the doctor's line, in the caller's
transaction, with the ETA of a read-only projection of the changed line (the one the projector
then stores).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from core.auth.permissions import require
from core.context import Actor, load_owned, tenant_of
from core.errors import Conflict, ValidationFailed
from core.queue.eta_projection import Projection, Refresh, project_line
from core.queue.events import DELAY, append_event, enqueue_intents
from core.queue.line import RECENT, load_line
from core.queue.place import QueuePlace, queue_place
from core.queue.projection import defer_refresh
from db.models import Doctor, DoctorSession

MAX_PAUSE_MINUTES = 240
MAX_DELAY_MINUTES = 360


@dataclass(frozen=True)
class DoctorDay:
    """The doctor's day session after a change."""

    doctor_id: int
    status: str
    paused_until: dt.datetime | None
    delay_minutes: int
    delay_until: dt.datetime | None
    notified: int = 0


def pause_doctor(
    session: Session,
    actor: Actor,
    *,
    doctor_id: int,
    minutes: int | None = None,
    reason: str | None = None,
) -> DoctorDay:
    """Pause the doctor's queue (tea, ward round); ``minutes`` is the expected length.

    Without ``minutes`` the clinic's ``default_pause_minutes`` is assumed for the ETAs.
    """
    require(actor, "queue.call")
    if minutes is not None and not 1 <= minutes <= MAX_PAUSE_MINUTES:
        raise ValidationFailed(f"A pause lasts 1 to {MAX_PAUSE_MINUTES} minutes", field="minutes")
    now = actor.clock()
    doctor, place, row = _day(session, actor, doctor_id, now)
    if row.status == "paused":
        raise Conflict("The doctor is already paused")
    length = minutes or place.rules.default_pause_minutes
    until = now + dt.timedelta(minutes=length)
    _change(
        session,
        row,
        {"status": "paused", "paused_at": now, "paused_until": until, "note": _note(reason)},
    )
    _event(session, actor, place, doctor, "DoctorPaused", {"minutes": length}, now)
    defer_refresh(session, row.tenant_id, place, now, include=doctor.id)
    return DoctorDay(doctor.id, "paused", until, row.delay_minutes, row.delay_until)


def resume_doctor(session: Session, actor: Actor, *, doctor_id: int) -> DoctorDay:
    """End the doctor's pause; the paused minutes are added to the day's total."""
    require(actor, "queue.call")
    now = actor.clock()
    doctor, place, row = _day(session, actor, doctor_id, now)
    if row.status != "paused" or row.paused_at is None:
        raise Conflict("The doctor is not paused")
    paused = max(int((now - row.paused_at).total_seconds() // 60), 0)
    _change(
        session,
        row,
        {
            "status": "active",
            "paused_at": None,
            "paused_until": None,
            "paused_minutes": (row.paused_minutes or 0) + paused,
        },
    )
    _event(session, actor, place, doctor, "DoctorResumed", {"paused_minutes": paused}, now)
    defer_refresh(session, row.tenant_id, place, now, include=doctor.id)
    return DoctorDay(doctor.id, "active", None, row.delay_minutes, row.delay_until)


def announce_delay(
    session: Session,
    actor: Actor,
    *,
    doctor_id: int,
    minutes: int,
    reason: str | None = None,
) -> DoctorDay:
    """Tell every waiting patient the doctor is running ``minutes`` late (0 clears it).

    The delay pushes the doctor's ETAs until ``now + minutes``; one delay intent per waiting
    patient goes to the outbox (deduplicated per token and announcement).
    """
    require(actor, "queue.manage")
    if not 0 <= minutes <= MAX_DELAY_MINUTES:
        raise ValidationFailed(f"A delay is 0 to {MAX_DELAY_MINUTES} minutes", field="minutes")
    now = actor.clock()
    doctor, place, row = _day(session, actor, doctor_id, now)
    until = now + dt.timedelta(minutes=minutes) if minutes else None
    _change(session, row, {"delay_minutes": minutes, "delay_until": until, "note": _note(reason)})
    payload = {"minutes": minutes, "reason": _note(reason)}
    _event(session, actor, place, doctor, "DelayAnnounced", payload, now)
    refresh = defer_refresh(session, row.tenant_id, place, now, include=doctor.id)
    projections = _projected(session, row.tenant_id, place, doctor.id, now, refresh)
    intents = [
        {
            "kind": DELAY,
            "payload": {
                "token_id": p.token_id,
                "doctor_id": doctor.id,
                "minutes": minutes,
                "eta": p.eta.isoformat(),
                "eta_local": p.eta.astimezone(place.zone).strftime("%H:%M"),
                "reason": _note(reason),
            },
            "dedupe_key": f"delay:{p.token_id}:{now:%Y%m%dT%H%M%S}",
        }
        for p in projections.values()
        if p.doctor_id == doctor.id
    ]
    if minutes:
        enqueue_intents(session, tenant_id=row.tenant_id, rows=intents, at=now)
    notified = len(intents) if minutes else 0
    return DoctorDay(doctor.id, row.status, row.paused_until, minutes, until, notified)


def _projected(
    session: Session,
    tenant_id: int,
    place: QueuePlace,
    doctor_id: int,
    now: dt.datetime,
    refresh: Refresh | None,
) -> dict[int, Projection]:
    """The department's projection after the change: the inline refresh's, or a read-only one.

    With a projector the stored ETAs follow after commit; this reads the changed line (the
    session row's new delay included) and projects it with the calibration the department's
    last projection stored, as issue does for the ETA it returns. Nothing is written.
    """
    if refresh is not None:
        return refresh.projections
    rules = place.rules
    day = place.service_date(now)
    line = load_line(session, tenant_id, place, day, rules, include=doctor_id, since=now - RECENT)
    return project_line(line, now, rules, place.calibration)


def _day(
    session: Session, actor: Actor, doctor_id: int, now: dt.datetime
) -> tuple[Doctor, QueuePlace, DoctorSession]:
    """Load the doctor and today's session row (created if missing) with fresh values."""
    tenant_id = tenant_of(session, actor)
    doctor = load_owned(session, actor, Doctor, doctor_id, "Doctor")
    if not doctor.active:
        raise Conflict("That doctor is no longer active at this clinic")
    place = queue_place(session, tenant_id, doctor.department_id)
    day = place.service_date(now)
    values: dict[str, Any] = {
        "tenant_id": tenant_id,
        "doctor_id": doctor.id,
        "branch_id": place.branch_id,
        "service_date": day,
        "status": "active",
        "paused_minutes": 0,
        "delay_minutes": 0,
        "created_at": now,
    }
    dialect = postgresql if session.connection().dialect.name == "postgresql" else sqlite
    session.execute(
        dialect.insert(DoctorSession)
        .values(**values)
        .on_conflict_do_nothing(
            index_elements=["tenant_id", "doctor_id", "branch_id", "service_date"]
        )
    )
    row = session.scalars(
        select(DoctorSession)
        .where(
            DoctorSession.tenant_id == tenant_id,
            DoctorSession.doctor_id == doctor.id,
            DoctorSession.branch_id == place.branch_id,
            DoctorSession.service_date == day,
        )
        .execution_options(populate_existing=True)
    ).one()
    return doctor, place, row


def _change(session: Session, row: DoctorSession, values: dict[str, Any]) -> None:
    """Compare-and-set the session row on the state it was read in."""
    stmt = (
        update(DoctorSession)
        .where(
            DoctorSession.id == row.id,
            DoctorSession.tenant_id == row.tenant_id,
            DoctorSession.status == row.status,
            DoctorSession.delay_minutes == row.delay_minutes,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if cast(CursorResult[Any], session.execute(stmt)).rowcount != 1:
        raise Conflict("The doctor's status changed meanwhile; reload and try again")
    # The row now holds what was written; expiring it would reload it by id alone, a query
    # that names no tenant (a fan-out to every shard under Citus).
    for key, value in values.items():
        set_committed_value(row, key, value)


def _event(
    session: Session,
    actor: Actor,
    place: QueuePlace,
    doctor: Doctor,
    type: str,
    payload: dict[str, Any],
    now: dt.datetime,
) -> None:
    append_event(
        session,
        tenant_id=actor.require_tenant(),
        branch_id=place.branch_id,
        department_id=doctor.department_id,
        doctor_id=doctor.id,
        token_id=None,
        type=type,
        actor_id=actor.user_id,
        payload=payload,
        at=now,
    )


def _note(reason: str | None) -> str | None:
    """A short free-text reason, trimmed (None when blank)."""
    if reason is None:
        return None
    text = " ".join(reason.split())[:200]
    return text or None
