"""Is the system healthy? Delivery, backlog and latency figures for the console and /metrics.

``health_figures`` reads one clinic (a clinic admin) or every clinic (the platform admin, or
``platform_health`` for the service's ``/metrics``). Webhook deliveries are stored before the
clinic is known, so their success rate is platform-wide and shown to the platform admin only.
Counts cover the last ``window`` (24 hours by default); backlog and lag are as of ``now``.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from core.auth.permissions import require
from core.context import Actor, tenant_of
from core.errors import ValidationFailed
from db.models import OutboxMessage, QueueToken, WhatsAppMessage
from db.models.messaging import WebhookInbox

WINDOW = dt.timedelta(hours=24)
WAITING = ("waiting", "called")
DELIVERED = ("delivered", "read")
PROBES = 20


@dataclass(frozen=True)
class FailedMessage:
    at: dt.datetime
    what: str  # template name or message type
    code: int | None
    reason: str


@dataclass(frozen=True)
class HealthFigures:
    window_hours: int
    webhooks_done: int | None  # None for a clinic admin (platform-wide figure)
    webhooks_failed: int | None
    webhooks_pending: int | None
    queue_depth: int  # tokens waiting or called (service days within the window)
    outbox_pending: int
    outbox_failed: int
    worker_lag_seconds: float  # age of the oldest pending outbox row that is due (0 if none)
    messages_sent: int  # outbound messages Meta accepted or reported on in the window
    messages_delivered: int
    messages_failed: int
    failed: tuple[FailedMessage, ...]

    @property
    def webhook_success_pct(self) -> float | None:
        if self.webhooks_done is None or self.webhooks_failed is None:
            return None
        total = self.webhooks_done + self.webhooks_failed
        return round(100 * self.webhooks_done / total, 1) if total else None

    @property
    def delivery_pct(self) -> float | None:
        total = self.messages_sent
        return round(100 * self.messages_delivered / total, 1) if total else None


def health_figures(
    session: Session,
    actor: Actor,
    *,
    now: dt.datetime,
    window: dt.timedelta = WINDOW,
    failed_limit: int = 20,
) -> HealthFigures:
    """The actor's clinic's figures (platform-wide for the platform admin)."""
    if window <= dt.timedelta() or window > dt.timedelta(days=31):
        raise ValidationFailed("The window is between an hour and 31 days", field="window")
    if actor.tenant_id is None:
        require(actor, "platform.manage")
        return _figures(session, None, now, window, failed_limit)
    require(actor, "report.read")
    return _figures(session, tenant_of(session, actor), now, window, failed_limit)


def platform_health(session: Session, *, now: dt.datetime) -> HealthFigures:
    """Every clinic's figures, for the service's ``/metrics`` (no actor: the scrape is not a user).

    The caller's session must be scoped to all tenants.
    """
    return _figures(session, None, now, WINDOW, 0)


def _figures(
    session: Session, tenant_id: int | None, now: dt.datetime, window: dt.timedelta, limit: int
) -> HealthFigures:
    since = now - window

    def mine(model: type) -> list[ColumnElement[bool]]:
        return [] if tenant_id is None else [model.tenant_id == tenant_id]  # type: ignore[attr-defined]

    webhooks: dict[str, int] | None = None
    if tenant_id is None:
        webhooks = dict(
            session.execute(
                select(WebhookInbox.status, func.count())
                .where(WebhookInbox.received_at >= since)
                .group_by(WebhookInbox.status)
            ).all()
        )
    t = QueueToken
    depth = session.scalar(
        select(func.count()).where(*mine(t), t.status.in_(WAITING), t.service_date >= since.date())
    )
    o = OutboxMessage
    outbox = dict(
        session.execute(
            select(o.status, func.count())
            .where(*mine(o), o.status.in_(("pending", "failed")))
            .group_by(o.status)
        ).all()
    )
    oldest = session.scalar(
        select(func.min(o.available_at)).where(
            *mine(o), o.status == "pending", o.available_at <= now
        )
    )
    m = WhatsAppMessage
    sent = dict(
        session.execute(
            select(m.status, func.count())
            .where(*mine(m), m.direction == "out", m.created_at >= since, m.status != "queued")
            .group_by(m.status)
        ).all()
    )
    failed_rows = (
        session.execute(
            select(m.created_at, m.template_name, m.msg_type, m.error_code, m.error_title)
            .where(*mine(m), m.direction == "out", m.status == "failed", m.created_at >= since)
            .order_by(m.created_at.desc())
            .limit(limit)
        ).all()
        if limit
        else []
    )
    lag = max((now - oldest).total_seconds(), 0.0) if oldest is not None else 0.0
    return HealthFigures(
        window_hours=int(window.total_seconds() // 3600),
        webhooks_done=None if webhooks is None else webhooks.get("done", 0),
        webhooks_failed=None if webhooks is None else webhooks.get("failed", 0),
        webhooks_pending=None if webhooks is None else webhooks.get("pending", 0),
        queue_depth=int(depth or 0),
        outbox_pending=int(outbox.get("pending", 0)),
        outbox_failed=int(outbox.get("failed", 0)),
        worker_lag_seconds=round(lag, 1),
        messages_sent=sum(sent.values()),
        messages_delivered=sum(sent.get(s, 0) for s in DELIVERED),
        messages_failed=int(sent.get("failed", 0)),
        failed=tuple(
            FailedMessage(at, template or kind, code, title or "no reason given")
            for at, template, kind, code, title in failed_rows
        ),
    )


def database_p95_ms(session: Session, actor: Actor, *, probes: int = PROBES) -> float:
    """The 95th percentile of ``probes`` timed round trips of a small indexed read, in ms.

    What a page's simplest query costs right now (network, locks and load included).
    """
    if actor.tenant_id is None:
        require(actor, "platform.manage")
    else:
        require(actor, "report.read")
        tenant_of(session, actor)
    if not 1 <= probes <= 200:
        raise ValidationFailed("Between 1 and 200 probes", field="probes")
    times = []
    for _ in range(probes):
        started = time.perf_counter()
        session.execute(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.id < 0))
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return round(times[min(len(times) - 1, int(0.95 * len(times)))], 2)
