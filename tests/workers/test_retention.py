"""Retention purge: old message bodies go, recent ones and every count stay, per clinic.

SQLite and PostgreSQL, inside the rolled-back test transaction.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from core.messaging.retention import SETTING, purge_batch, retention_days
from db.models import Tenant, WhatsAppMessage
from db.models.messaging import WebhookInbox
from tests.support import Clinic

NOW = dt.datetime(2026, 12, 7, 6, 0, tzinfo=dt.UTC)
AGES = (40, 10, 1)  # days
STATUSES = ("read", "delivered", "failed")


def _messages(session, clinic: Clinic) -> dict[int, int]:
    """One outbound message per age (a different status each); return {age: id}."""
    ids = {}
    for age, status in zip(AGES, STATUSES, strict=True):
        row = WhatsAppMessage(
            tenant_id=clinic.tenant_id,
            direction="out",
            phone_number_id="1055",
            contact_key="919876543210",
            msg_type="template",
            body={"text": {"body": f"Token A-{age}"}},
            status=status,
            pricing_category="utility",
            created_at=NOW - dt.timedelta(days=age),
        )
        session.add(row)
        session.flush()
        ids[age] = row.id
    return ids


def _aggregates(session, clinic: Clinic) -> list[tuple[str, str | None, int]]:
    return sorted(
        session.execute(
            select(WhatsAppMessage.status, WhatsAppMessage.pricing_category, func.count())
            .where(WhatsAppMessage.tenant_id == clinic.tenant_id)
            .group_by(WhatsAppMessage.status, WhatsAppMessage.pricing_category)
        ).all()
    )


def _purge_all(session) -> None:
    while purge_batch(session, now=NOW, limit=2):  # small batches: the loop is exercised
        pass
    session.expire_all()


def _kept(session, ids: dict[int, int]) -> dict[int, bool]:
    rows = {age: session.get(WhatsAppMessage, row_id) for age, row_id in ids.items()}
    for row in rows.values():
        assert (row.body is None) == (row.purged_at is not None)
    return {age: row.body is not None for age, row in rows.items()}


def test_each_clinic_keeps_bodies_for_its_own_retention_and_counts_stay(
    session, clinic_a, clinic_b
):
    session.get(Tenant, clinic_b.tenant_id).settings = {SETTING: 7}
    a, b = _messages(session, clinic_a), _messages(session, clinic_b)
    before = (_aggregates(session, clinic_a), _aggregates(session, clinic_b))
    _purge_all(session)
    assert _kept(session, a) == {40: False, 10: True, 1: True}  # default 30 days
    assert _kept(session, b) == {40: False, 10: False, 1: True}  # clinic B asked for 7
    assert (_aggregates(session, clinic_a), _aggregates(session, clinic_b)) == before
    purged = session.get(WhatsAppMessage, a[40])
    assert purged.purged_at == NOW and purged.status == "read"


def test_processed_inbox_bodies_are_purged_pending_ones_kept(session, clinic_a):
    def delivery(age: int, status: str) -> int:
        row = WebhookInbox(
            received_at=NOW - dt.timedelta(days=age), body='{"entry": []}', status=status
        )
        session.add(row)
        session.flush()
        return row.id

    old_done, old_pending, new_done = (
        delivery(40, "done"),
        delivery(40, "pending"),
        delivery(1, "done"),
    )
    _purge_all(session)
    bodies = {i: session.get(WebhookInbox, i).body for i in (old_done, old_pending, new_done)}
    assert bodies == {old_done: None, old_pending: '{"entry": []}', new_done: '{"entry": []}'}


def test_retention_setting_must_be_a_positive_number_of_days():
    assert retention_days(None) == 30
    assert retention_days({SETTING: 90}) == 90
    assert [retention_days({SETTING: v}) for v in (0, -5, "7", True)] == [30, 30, 30, 30]
