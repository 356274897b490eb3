"""``qlink seed history`` on a few days: the rows keep the live rules' invariants, and no-shows
depend on lead time (so the no-show model has something to learn)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.analytics import bi
from core.analytics.no_show import evaluate_no_show_model
from core.auth.users import actor_for
from core.billing.bills import bill_status
from core.clock import FrozenClock
from db.engine import ALL_TENANTS, Database
from db.models import (
    Appointment,
    Bill,
    BillItem,
    Department,
    Payment,
    QueueToken,
    Sequence,
    Tenant,
    TokenCounter,
    User,
)
from db.models.queue import ACTIVE_TOKEN_STATUSES
from qlink.seed.network import ADMIN, SLUG, seed_history
from qlink.seed.network_day import no_show_probability
from tests.support import TEST_DATA_KEY

NOW = dt.datetime(2026, 11, 23, 14, 0, tzinfo=dt.UTC)  # Monday evening in Kolkata
DAYS = 6


def test_history_keeps_the_rules_and_no_shows_follow_lead_time(db: Database):
    # Its own slug: the console's browser test seeds the network in the same database.
    slug = f"{SLUG}-{uuid.uuid4().hex[:6]}"
    summary = seed_history(db, TEST_DATA_KEY, days=DAYS, clock=FrozenClock(NOW), slug=slug)
    assert summary.created and summary.rows["queue_tokens"] > 5000
    again = seed_history(db, TEST_DATA_KEY, days=DAYS, clock=FrozenClock(NOW), slug=slug)
    assert not again.created
    with db.transaction(ALL_TENANTS) as s:
        tenant = s.scalar(select(Tenant.id).where(Tenant.slug == slug))
        _tokens_numbered_per_department_day(s, tenant)
        _statuses_consistent(s, tenant)
        _bills_add_up(s, tenant)
        owner = s.scalar(select(User).where(User.tenant_id == tenant, User.username == ADMIN[0]))
        assert owner is not None
        admin = actor_for(owner)
        first = NOW.date() - dt.timedelta(days=DAYS)
        f = bi.BIFilter(first, NOW.date() - dt.timedelta(days=1))
        rates = {row[0]: row[3] for row in bi.no_show_rate(s, admin, f).rows}
        assert rates["same day"] < rates["3-6 days"] < rates["7+ days"], rates
        summary_rows = bi.daily_summary(s, admin, f).rows
        assert len(summary_rows) == DAYS
        evaluation = evaluate_no_show_model(s, admin, until=NOW.date(), holdout_days=2, days=10)
        assert evaluation.model is not None and evaluation.base_rate is not None
        assert evaluation.model.log_loss <= evaluation.base_rate.log_loss + 0.01


def test_no_show_odds_rise_with_lead_time_and_past_no_shows():
    assert no_show_probability(0.2, 0, 2, 660) < no_show_probability(10, 0, 2, 660)
    assert no_show_probability(2, 0, 2, 660) < no_show_probability(2, 2, 2, 660)
    assert no_show_probability(2, 0, 2, 660) < no_show_probability(2, 0, 5, 660)
    assert no_show_probability(2, 0, 2, 660) < no_show_probability(2, 0, 2, 560)


def _tokens_numbered_per_department_day(s: Session, tenant: int) -> None:
    codes = dict(
        s.execute(
            select(Department.id, Department.code).where(Department.tenant_id == tenant)
        ).all()
    )
    numbers: dict[tuple[int, dt.date], list[int]] = defaultdict(list)
    for department, day, number, code in s.execute(
        select(
            QueueToken.department_id, QueueToken.service_date, QueueToken.number, QueueToken.code
        )
        .where(QueueToken.tenant_id == tenant)
        .order_by(QueueToken.issued_at, QueueToken.id)
    ):
        assert code == f"{codes[department]}-{number:03d}"
        numbers[(department, day)].append(number)
    counters = {
        (c.department_id, c.service_date): c.last_number
        for c in s.scalars(select(TokenCounter).where(TokenCounter.tenant_id == tenant))
    }
    assert set(counters) == set(numbers)
    for key, seen in numbers.items():
        assert seen == list(range(1, len(seen) + 1)), key  # contiguous, in order of issue
        assert counters[key] == len(seen)


def _statuses_consistent(s: Session, tenant: int) -> None:
    active = s.scalar(
        select(func.count())
        .select_from(QueueToken)
        .where(QueueToken.tenant_id == tenant, QueueToken.status.in_(ACTIVE_TOKEN_STATUSES))
    )
    assert active == 0
    for token in s.scalars(select(QueueToken).where(QueueToken.tenant_id == tenant)):
        assert token.called_at is not None and token.issued_at <= token.called_at
        if token.status == "done":
            assert token.called_at <= token.started_at < token.finished_at
        else:
            assert token.status == "missed" and token.started_at is None
    appointment_tokens = dict(
        s.execute(
            select(Appointment.status, func.count(QueueToken.id))
            .outerjoin(
                QueueToken,
                (QueueToken.tenant_id == Appointment.tenant_id)
                & (QueueToken.appointment_id == Appointment.id),
            )
            .where(Appointment.tenant_id == tenant)
            .group_by(Appointment.status)
        ).all()
    )
    completed = s.scalar(
        select(func.count()).where(
            Appointment.tenant_id == tenant, Appointment.status == "completed"
        )
    )
    assert appointment_tokens["completed"] == completed
    assert appointment_tokens.get("no_show", 0) == 0 and appointment_tokens.get("cancelled", 0) == 0


def _bills_add_up(s: Session, tenant: int) -> None:
    items = dict(
        s.execute(
            select(BillItem.bill_id, func.sum(BillItem.amount_minor))
            .where(BillItem.tenant_id == tenant)
            .group_by(BillItem.bill_id)
        ).all()
    )
    paid = dict(
        s.execute(
            select(Payment.bill_id, func.sum(Payment.amount_minor))
            .where(Payment.tenant_id == tenant)
            .group_by(Payment.bill_id)
        ).all()
    )
    bills = list(s.scalars(select(Bill).where(Bill.tenant_id == tenant).order_by(Bill.number)))
    for b in bills:
        assert b.total_minor == b.subtotal_minor - b.discount_minor + b.tax_minor == items[b.id]
        assert b.paid_minor == paid.get(b.id, 0)
        assert b.status == bill_status(b.total_minor, b.paid_minor, has_lines=True)
    assert [b.number for b in bills] == [f"B-{n:06d}" for n in range(1, len(bills) + 1)]
    last = dict(
        s.execute(
            select(Sequence.name, Sequence.last_value).where(Sequence.tenant_id == tenant)
        ).all()
    )
    assert last["bill"] == len(bills)
    receipts = s.scalar(select(func.count()).where(Payment.tenant_id == tenant))
    assert last["receipt"] == receipts
