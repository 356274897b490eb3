"""A delivery and its redelivery, processed by four threads at once, count once (PostgreSQL).

Two inbox rows hold the same body (Meta redelivered it); two threads take each row. The inbox
row lock serialises the two on one row; the unique keys on (tenant, wamid) and (tenant, wamid,
status) make the two rows' processing count each message and status once.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import select

from core.patients.phones import PhoneVault
from core.tenancy import register_whatsapp_number
from db.engine import ALL_TENANTS
from db.models.messaging import WebhookInbox, WhatsAppMessage, WhatsAppStatusEvent
from tests.support import make_clinic
from tests.web.whatsapp_support import (
    change,
    delivery,
    encode,
    number_id,
    status,
    text_message,
    wamid,
)
from webhooks.inbox import WhatsAppInbox


def test_four_threads_on_a_delivery_and_its_redelivery_process_each_message_once(pg_db):
    number = number_id()
    with pg_db.transaction(ALL_TENANTS) as s:
        clinic = make_clinic(s)
        register_whatsapp_number(
            s, clinic.system, phone_number_id=number, branch_id=clinic.branch.id
        )
        sent = wamid()
        s.add(
            WhatsAppMessage(
                tenant_id=clinic.tenant_id,
                direction="out",
                wa_message_id=sent,
                phone_number_id=number,
                contact_key="919876500051",
                msg_type="text",
                status="sent",
            )
        )
    messages = [text_message(f"r{i}", sender=f"91987650005{i}") for i in range(3)]
    body = encode(delivery(change(number, messages=messages, statuses=[status(sent, "read")])))
    handed: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(4)

    def handler(session, actor, *, message, vault):
        with lock:
            handed.append(message.wa_message_id)

    inbox = WhatsAppInbox(pg_db, app_secret="s", vault=PhoneVault("k" * 43), handler=handler)
    first, second = inbox.store(body), inbox.store(body)

    def run(inbox_id: int):
        barrier.wait(timeout=20)
        return inbox.process(inbox_id)

    with ThreadPoolExecutor(4) as pool:
        reports = list(pool.map(run, [first, first, second, second]))
    assert all(r is not None for r in reports), "a processing thread failed"
    assert sorted(handed) == sorted(m["id"] for m in messages)
    assert sum(r.handled for r in reports) == 3 and sum(r.statuses for r in reports) == 1
    assert sum(r.already_done for r in reports) == 2
    with pg_db.transaction(ALL_TENANTS, readonly=True) as s:
        ids = [m["id"] for m in messages]
        assert (
            len(
                s.scalars(
                    select(WhatsAppMessage).where(WhatsAppMessage.wa_message_id.in_(ids))
                ).all()
            )
            == 3
        )
        assert (
            len(
                s.scalars(
                    select(WhatsAppStatusEvent).where(WhatsAppStatusEvent.wa_message_id == sent)
                ).all()
            )
            == 1
        )
        assert (
            s.scalar(select(WhatsAppMessage.status).where(WhatsAppMessage.wa_message_id == sent))
            == "read"
        )
        states = s.scalars(select(WebhookInbox.status).where(WebhookInbox.id.in_([first, second])))
        assert sorted(states) == ["done", "done"]
