"""Doctors' external calendars (iCalendar feeds) as busy blocks that remove offered web slots.

A clinic admin sets a doctor's feed URL (``set_calendar_feed``, https only, audited) and sees
each feed's last read and error (``list_calendar_feeds``). The workers' ticker
fetches due feeds (``due_feeds``) over HTTP and hands the bytes to ``refresh_feed``, which parses
them with ``icalendar``: every ``VEVENT`` that is not ``TRANSPARENT`` or ``CANCELLED`` and every
``FREEBUSY`` period of a ``VFREEBUSY`` that is not ``FREE`` becomes a busy block in UTC. A time
without a zone (floating) or an all-day date is read in the clinic's zone, so a block keeps its
wall-clock meaning across a DST change; recurring events are expanded over the next 60 days.
A feed that fails to parse keeps its last busy blocks and records the error.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import icalendar
from dateutil.rrule import rrulestr
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from core import audit
from core.auth.permissions import require
from core.context import Actor, tenant_of
from core.errors import NotFound, ValidationFailed
from core.tenancy import tenant_timezone
from db.models import Doctor
from db.models.scheduling import CalendarFeed

REFRESH_EVERY = dt.timedelta(minutes=10)
HORIZON = dt.timedelta(days=60)
MAX_BYTES = 2_000_000
MAX_BLOCKS = 5_000

Block = tuple[dt.datetime, dt.datetime]


@dataclass(frozen=True)
class FeedInfo:
    """A doctor and its calendar feed as an admin sees it (``url`` None: no feed)."""

    doctor_id: int
    doctor_name: str
    url: str | None
    fetched_at: dt.datetime | None
    last_error: str | None
    busy_blocks: int


@dataclass(frozen=True)
class DueFeed:
    tenant_id: int
    feed_id: int
    url: str


def set_calendar_feed(
    session: Session, actor: Actor, *, doctor_id: int, url: str | None
) -> CalendarFeed | None:
    """Set (or with ``None`` remove) a doctor's ICS feed URL; audited."""
    require(actor, "schedule.write")
    tenant_id = tenant_of(session, actor)
    doctor = session.get(Doctor, doctor_id)
    if doctor is None or doctor.tenant_id != tenant_id:
        raise NotFound("Doctor not found")
    feed = session.scalar(
        select(CalendarFeed).where(
            CalendarFeed.tenant_id == tenant_id, CalendarFeed.doctor_id == doctor_id
        )
    )
    if url is None or not url.strip():
        if feed is not None:
            session.delete(feed)
        audit.record(session, actor, "calendar_feed.remove", entity="doctor", entity_id=doctor_id)
        return None
    url = _feed_url(url)
    if feed is None:
        feed = CalendarFeed(tenant_id=tenant_id, doctor_id=doctor_id, url=url, busy=[])
        session.add(feed)
    else:
        feed.url, feed.busy, feed.fetched_at, feed.last_error = url, [], None, None
    session.flush()
    audit.record(session, actor, "calendar_feed.set", entity="doctor", entity_id=doctor_id)
    return feed


def list_calendar_feeds(session: Session, actor: Actor) -> list[FeedInfo]:
    """Return the clinic's doctors, each with its feed (if any): URL, last read, last error."""
    require(actor, "schedule.write")
    tenant_id = tenant_of(session, actor)
    rows = session.execute(
        select(Doctor.id, Doctor.full_name, CalendarFeed)
        .outerjoin(
            CalendarFeed,
            (CalendarFeed.tenant_id == Doctor.tenant_id) & (CalendarFeed.doctor_id == Doctor.id),
        )
        .where(Doctor.tenant_id == tenant_id, Doctor.active.is_(True))
        .order_by(Doctor.full_name, Doctor.id)
    ).all()
    return [
        FeedInfo(i, name, f.url, f.fetched_at, f.last_error, len(f.busy or []))
        if f is not None
        else FeedInfo(i, name, None, None, None, 0)
        for i, name, f in rows
    ]


def due_feeds(
    session: Session, *, now: dt.datetime, every: dt.timedelta = REFRESH_EVERY
) -> list[DueFeed]:
    """Feeds not read for ``every`` (platform scope: all clinics)."""
    rows = session.execute(
        select(CalendarFeed.tenant_id, CalendarFeed.id, CalendarFeed.url)
        .where(or_(CalendarFeed.fetched_at.is_(None), CalendarFeed.fetched_at <= now - every))
        .order_by(CalendarFeed.id)
    ).all()
    return [DueFeed(t, i, u) for t, i, u in rows]


def refresh_feed(
    session: Session,
    tenant_id: int,
    feed_id: int,
    *,
    content: bytes | None,
    error: str | None,
    now: dt.datetime,
) -> CalendarFeed | None:
    """Store the busy blocks parsed from a fetched feed, or the fetch/parse error."""
    feed = session.get(CalendarFeed, feed_id)
    if feed is None or feed.tenant_id != tenant_id:
        return None
    feed.fetched_at = now
    if content is None:
        feed.last_error = (error or "fetch failed")[:300]
        return feed
    try:
        blocks = parse_busy(content, tenant_timezone(session, tenant_id), now, now + HORIZON)
    except ValueError as exc:
        feed.last_error = f"unreadable calendar: {exc}"[:300]
        return feed
    feed.busy = [[a.isoformat(), b.isoformat()] for a, b in blocks]
    feed.last_error = None
    return feed


def busy_blocks(session: Session, tenant_id: int, doctor_id: int) -> list[Block]:
    """The doctor's last-read busy blocks (UTC), empty without a feed."""
    busy = session.scalar(
        select(CalendarFeed.busy).where(
            CalendarFeed.tenant_id == tenant_id, CalendarFeed.doctor_id == doctor_id
        )
    )
    return [(dt.datetime.fromisoformat(a), dt.datetime.fromisoformat(b)) for a, b in busy or []]


def _feed_url(raw: str) -> str:
    # https only: a private calendar address carries its secret in the URL, and a plain-http
    # feed could be altered on the way to hide or invent busy times.
    url = raw.strip()
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname or len(url) > 500:
        raise ValidationFailed(
            "Give the calendar's https:// address (its iCalendar/ICS link, up to 500 characters)",
            field="url",
        )
    return url


def overlaps(blocks: Sequence[Block], start: dt.datetime, end: dt.datetime) -> bool:
    return any(a < end and start < b for a, b in blocks)


def parse_busy(
    content: bytes, zone: ZoneInfo, window_start: dt.datetime, window_end: dt.datetime
) -> list[Block]:
    """Busy blocks (UTC, merged, sorted) of an iCalendar document inside the window."""
    if len(content) > MAX_BYTES:
        raise ValueError("larger than 2 MB")
    try:
        calendar = icalendar.Calendar.from_ical(content)
    except Exception as exc:  # icalendar raises ValueError and friends on malformed input
        raise ValueError(str(exc)[:200]) from exc
    blocks: list[Block] = []
    for event in calendar.walk("VEVENT"):
        if str(event.get("TRANSP", "OPAQUE")).upper() == "TRANSPARENT":
            continue
        if str(event.get("STATUS", "")).upper() == "CANCELLED":
            continue
        blocks.extend(_event_blocks(event, zone, window_start, window_end))
    for freebusy in calendar.walk("VFREEBUSY"):
        periods = freebusy.get("FREEBUSY") or []
        for prop in periods if isinstance(periods, list) else [periods]:
            if str(prop.params.get("FBTYPE", "BUSY")).upper() == "FREE":
                continue
            period = getattr(prop, "dt", None)
            if not isinstance(period, tuple) or len(period) != 2:
                continue
            start, end_or_length = period
            first = _instant(start, zone)
            if isinstance(end_or_length, dt.timedelta):
                blocks.append((first, first + end_or_length))
            else:
                blocks.append((first, _instant(end_or_length, zone)))
        if len(blocks) > MAX_BLOCKS:
            break
    kept = sorted((a, b) for a, b in blocks if a < window_end and window_start < b and a < b)
    merged: list[Block] = []
    for start, end in kept[:MAX_BLOCKS]:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _event_blocks(
    event: icalendar.cal.Component,
    zone: ZoneInfo,
    window_start: dt.datetime,
    window_end: dt.datetime,
) -> list[Block]:
    start_prop = event.get("DTSTART")
    if start_prop is None:
        return []
    start = start_prop.dt
    end_prop = event.get("DTEND")
    if end_prop is not None:
        length = _local(end_prop.dt, zone) - _local(start, zone)
    elif event.get("DURATION") is not None:
        length = event.get("DURATION").dt
    else:
        length = dt.timedelta(days=1) if not isinstance(start, dt.datetime) else dt.timedelta(0)
    rule = event.get("RRULE")
    if rule is None:
        a = _instant(start, zone)
        return [(a, _instant_after(start, length, zone))]
    first = _local(start, zone)
    rrule = rrulestr(rule.to_ical().decode(), dtstart=first.replace(tzinfo=None))
    excluded = _exdates(event, zone)
    out: list[Block] = []
    horizon = window_end.astimezone(first.tzinfo).replace(tzinfo=None)
    for occurrence in rrule:
        if occurrence > horizon or len(out) > MAX_BLOCKS:
            break
        local = occurrence.replace(tzinfo=first.tzinfo)
        a = local.astimezone(dt.UTC)
        if a in excluded:
            continue
        out.append((a, (local + length).astimezone(dt.UTC)))
    return out


def _exdates(event: icalendar.cal.Component, zone: ZoneInfo) -> set[dt.datetime]:
    raw = event.get("EXDATE")
    if raw is None:
        return set()
    out = set()
    for prop in raw if isinstance(raw, list) else [raw]:
        for value in prop.dts:
            out.add(_instant(value.dt, zone))
    return out


def _local(value: dt.date | dt.datetime, zone: ZoneInfo) -> dt.datetime:
    """An aware wall-clock datetime: floating times and dates are the clinic's wall clock."""
    if not isinstance(value, dt.datetime):
        return dt.datetime.combine(value, dt.time(0), tzinfo=zone)
    if value.tzinfo is None:
        return value.replace(tzinfo=zone)
    return value


def _instant(value: dt.date | dt.datetime, zone: ZoneInfo) -> dt.datetime:
    return _local(value, zone).astimezone(dt.UTC)


def _instant_after(
    start: dt.date | dt.datetime, length: dt.timedelta, zone: ZoneInfo
) -> dt.datetime:
    # Wall-clock arithmetic (an event 09:00-17:00 stays 17:00 on a DST day), then to UTC.
    return (_local(start, zone) + length).astimezone(dt.UTC)
