"""``/webhooks/whatsapp``: handshake, signatures, storage, routing, dedupe, statuses, identity.

Through the real app (TestClient with lifespan) on both databases; clinics committed for real,
each test with fresh fictional numbers and message ids.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from core.clock import FrozenClock
from core.context import Actor
from core.messaging.inbound_limits import InboundLimiter
from core.messaging.inbound_types import InboundMessage
from core.patients.phones import PhoneVault, normalise_phone
from core.patients.registry import register_patient
from core.tenancy import register_whatsapp_number
from db.engine import ALL_TENANTS, Database
from db.models import Patient
from db.models.messaging import (
    ConversationSession,
    WebhookInbox,
    WhatsAppMessage,
    WhatsAppStatusEvent,
)
from qlink.asgi import create_app
from tests.support import Clinic, make_clinic
from tests.web.conftest import settings_for
from tests.web.whatsapp_support import (
    change,
    contact,
    delivery,
    encode,
    number_id,
    sign,
    status,
    text_message,
    wamid,
)
from webhooks.inbox import WhatsAppInbox


@dataclasses.dataclass
class Inbound:
    """The app, its client, two clinics with a WhatsApp number each, and what was handed on."""

    db: Database
    client: TestClient
    a: Clinic
    b: Clinic
    number_a: str
    number_b: str
    handed: list[InboundMessage]
    vault: PhoneVault

    @property
    def secret(self) -> str:
        return str(self.client.app.state.settings.whatsapp_app_secret)  # type: ignore[attr-defined]

    def post(self, payload: dict[str, Any] | bytes, *, signature: str | None = "sign") -> Any:
        body = payload if isinstance(payload, bytes) else encode(payload)
        headers = {"Content-Type": "application/json"}
        if signature == "sign":
            headers["X-Hub-Signature-256"] = sign(body, self.secret)
        elif signature is not None:
            headers["X-Hub-Signature-256"] = signature
        response = self.client.post("/webhooks/whatsapp", content=body, headers=headers)
        self.settle()
        return response

    def settle(self) -> None:
        """Wait for the processing the route scheduled after commit."""
        assert self.client.portal is not None
        self.client.portal.call(self.client.app.state.whatsapp.idle)  # type: ignore[attr-defined]

    def rows(self, model: Any, *where: Any) -> list[Any]:
        with self.db.transaction(ALL_TENANTS, readonly=True) as s:
            return list(s.scalars(select(model).where(*where)))

    def inbox_count(self) -> int:
        with self.db.transaction(ALL_TENANTS, readonly=True) as s:
            return int(s.scalar(select(func.count()).select_from(WebhookInbox)) or 0)


def _clinic(db: Database, number: str) -> Clinic:
    with db.transaction(ALL_TENANTS) as s:
        clinic = make_clinic(s)
        register_whatsapp_number(
            s, clinic.system, phone_number_id=number, branch_id=clinic.branch.id
        )
    return clinic


@pytest.fixture
def inbound(db: Database, tmp_path: Path) -> Iterator[Inbound]:
    handed: list[InboundMessage] = []

    def handler(session: Any, actor: Actor, *, message: InboundMessage, vault: Any) -> None:
        assert actor.tenant_id == message.tenant_id
        handed.append(message)

    settings = settings_for(db, tmp_path)
    app = create_app(settings, database=db, inbound_handler=handler)
    number_a, number_b = number_id(), number_id()
    a, b = _clinic(db, number_a), _clinic(db, number_b)
    with TestClient(app) as client:
        yield Inbound(db, client, a, b, number_a, number_b, handed, PhoneVault(settings.data_key))


def test_handshake_answers_the_challenge_with_the_verify_token(inbound):
    token = inbound.client.app.state.settings.whatsapp_verify_token
    params = {"hub.mode": "subscribe", "hub.verify_token": token, "hub.challenge": "1158201444"}
    response = inbound.client.get("/webhooks/whatsapp", params=params)
    assert response.status_code == 200 and response.text == "1158201444"


@pytest.mark.parametrize("mode,token", [("subscribe", "wrong"), ("unsubscribe", None)])
def test_handshake_with_a_wrong_token_or_mode_is_refused(inbound, mode, token):
    token = token or inbound.client.app.state.settings.whatsapp_verify_token
    params = {"hub.mode": mode, "hub.verify_token": token, "hub.challenge": "42"}
    response = inbound.client.get("/webhooks/whatsapp", params=params)
    assert response.status_code == 403 and "42" not in response.text


@pytest.mark.parametrize(
    "signature,code", [(None, 401), ("sha256=" + "0" * 64, 403), ("garbage", 403)]
)
def test_missing_or_wrong_signature_stores_nothing(inbound, signature, code):
    before = inbound.inbox_count()
    payload = delivery(
        change(inbound.number_a, messages=[text_message("hi", sender="919876500001")])
    )
    response = inbound.post(payload, signature=signature)
    assert response.status_code == code
    assert inbound.inbox_count() == before and inbound.handed == []
    assert inbound.client.get("/healthz").status_code == 200


def test_malformed_json_is_400_and_stores_nothing(inbound):
    before = inbound.inbox_count()
    response = inbound.post(b'{"object": "whatsapp_business_account", "entry": [')
    assert response.status_code == 400
    assert inbound.inbox_count() == before


def test_batched_delivery_processes_every_entry_message_and_status(inbound):
    sent = _outbound(inbound, inbound.a, status_="sent")
    messages = [text_message(f"m{i}", sender=f"91987650000{i}") for i in range(4)]
    payload = delivery(
        change(inbound.number_a, messages=messages[:2], contacts=[contact("919876500000")]),
        change(inbound.number_a, messages=messages[2:]),
        change(inbound.number_a, statuses=[status(sent, "delivered")]),
        entries=2,
    )
    assert len(payload["entry"]) == 2
    response = inbound.post(payload)
    assert response.status_code == 200
    assert sorted(m.text for m in inbound.handed) == ["m0", "m1", "m2", "m3"]
    assert {m.tenant_id for m in inbound.handed} == {inbound.a.tenant_id}
    stored = inbound.rows(
        WhatsAppMessage,
        WhatsAppMessage.tenant_id == inbound.a.tenant_id,
        WhatsAppMessage.direction == "in",
        WhatsAppMessage.wa_message_id.in_([m["id"] for m in messages]),
    )
    assert len(stored) == 4 and {r.status for r in stored} == {"received"}
    # this clinic's window: other tests' clinics in the shared database have the same contact
    window = inbound.rows(
        ConversationSession,
        ConversationSession.tenant_id == inbound.a.tenant_id,
        ConversationSession.contact_key == "919876500002",
    )
    assert window[0].last_inbound_at == dt.datetime.fromtimestamp(1796000000, dt.UTC)
    assert (
        inbound.rows(WhatsAppMessage, WhatsAppMessage.wa_message_id == sent)[0].status
        == "delivered"
    )


def test_redelivery_is_acknowledged_and_processed_once(inbound):
    message = text_message("once", sender="919876500011")
    payload = delivery(change(inbound.number_a, messages=[message]))
    assert inbound.post(payload).status_code == 200
    assert inbound.post(payload).status_code == 200
    assert [m.text for m in inbound.handed] == ["once"]
    assert len(inbound.rows(WhatsAppMessage, WhatsAppMessage.wa_message_id == message["id"])) == 1
    inbox = inbound.rows(WebhookInbox, WebhookInbox.body.contains(message["id"]))
    assert [row.status for row in inbox] == ["done", "done"]


def test_unknown_phone_number_id_is_acknowledged_and_ignored(inbound):
    message = text_message("lost", sender="919876500012")
    response = inbound.post(delivery(change("100099999999", messages=[message])))
    assert response.status_code == 200
    assert inbound.handed == []
    assert inbound.rows(WhatsAppMessage, WhatsAppMessage.wa_message_id == message["id"]) == []


def test_sender_with_only_a_business_scoped_id_is_keyed_by_it(inbound):
    bsuid = "IN.1234567890ABCDEF"
    message = text_message("no phone", sender=None, user_id=bsuid)
    payload = delivery(
        change(inbound.number_a, messages=[message], contacts=[contact(None, user_id=bsuid)])
    )
    assert inbound.post(payload).status_code == 200
    (got,) = inbound.handed
    assert got.contact_key == bsuid and got.user_id == bsuid and got.wa_id is None
    assert got.profile_name == "Meena"


def test_user_changed_number_moves_the_patients_to_the_new_number(inbound):
    old, new = "919876500021", "919876500022"
    with inbound.db.transaction(inbound.a.tenant_id) as s:
        patient = register_patient(
            s,
            inbound.a.receptionist,
            vault=inbound.vault,
            full_name="Kavita Rao",
            phone="+" + old,
            wa_bsuid="IN.OLDBSUID21",
        ).patient
    system = {
        "id": wamid(),
        "timestamp": "1796000200",
        "type": "system",
        "from": old,
        "from_user_id": "IN.OLDBSUID21",
        "system": {
            "body": "User changed number",
            "wa_id": new,
            "type": "user_changed_number",
            "user_id": "IN.NEWBSUID22",
        },
    }
    assert inbound.post(delivery(change(inbound.number_a, messages=[system]))).status_code == 200
    (row,) = inbound.rows(Patient, Patient.id == patient.id)
    assert row.phone_hash == inbound.vault.lookup_hash(normalise_phone("+" + new))
    assert row.wa_bsuid == "IN.NEWBSUID22"
    assert inbound.handed == []  # a system message is not a conversation turn


def test_user_changed_user_id_replaces_the_business_scoped_id(inbound):
    with inbound.db.transaction(inbound.a.tenant_id) as s:
        patient = register_patient(
            s,
            inbound.a.receptionist,
            vault=inbound.vault,
            full_name="Arjun Nair",
            wa_bsuid="IN.BEFORE31",
        ).patient
    system = {
        "id": wamid(),
        "timestamp": "1796000200",
        "type": "system",
        "from_user_id": "IN.BEFORE31",
        "system": {"body": "changed", "type": "user_changed_user_id", "user_id": "IN.AFTER32"},
    }
    assert inbound.post(delivery(change(inbound.number_a, messages=[system]))).status_code == 200
    assert inbound.rows(Patient, Patient.id == patient.id)[0].wa_bsuid == "IN.AFTER32"


def test_statuses_move_an_outbound_message_forward_only_and_keep_errors_raw(inbound):
    sent = _outbound(inbound, inbound.a, status_="sent")
    pricing = {"billable": True, "pricing_model": "PMP", "type": "regular", "category": "utility"}
    read = status(sent, "read", ts="1796000300")
    late = status(sent, "delivered", ts="1796000200", pricing=pricing)
    inbound.post(delivery(change(inbound.number_a, statuses=[read, late])))
    (row,) = inbound.rows(WhatsAppMessage, WhatsAppMessage.wa_message_id == sent)
    assert row.status == "read" and row.pricing_category == "utility"
    failed_id = _outbound(inbound, inbound.a, status_="sent")
    errors = [{"code": 131026, "title": "Message undeliverable", "error_data": {"details": "x"}}]
    inbound.post(
        delivery(change(inbound.number_a, statuses=[status(failed_id, "failed", errors=errors)]))
    )
    (failed,) = inbound.rows(WhatsAppMessage, WhatsAppMessage.wa_message_id == failed_id)
    assert (failed.status, failed.error_code, failed.error_title) == (
        "failed",
        131026,
        "Message undeliverable",
    )
    (event,) = inbound.rows(WhatsAppStatusEvent, WhatsAppStatusEvent.wa_message_id == failed_id)
    assert event.errors == errors


def test_a_delivery_routed_to_clinic_a_never_touches_clinic_b(inbound):
    theirs = _outbound(inbound, inbound.b, status_="sent")
    message = text_message("hello A", sender="919876500041")
    inbound.post(
        delivery(change(inbound.number_a, messages=[message], statuses=[status(theirs, "read")]))
    )
    (b_row,) = inbound.rows(WhatsAppMessage, WhatsAppMessage.wa_message_id == theirs)
    assert b_row.status == "sent"
    stored = inbound.rows(WhatsAppMessage, WhatsAppMessage.wa_message_id == message["id"])
    assert [r.tenant_id for r in stored] == [inbound.a.tenant_id]
    assert [m.tenant_id for m in inbound.handed] == [inbound.a.tenant_id]
    assert (
        inbound.rows(
            ConversationSession,
            ConversationSession.tenant_id == inbound.b.tenant_id,
            ConversationSession.contact_key == "919876500041",
        )
        == []
    )


def _outbound(inbound: Inbound, clinic: Clinic, *, status_: str) -> str:
    ident = wamid()
    number = inbound.number_a if clinic is inbound.a else inbound.number_b
    with inbound.db.transaction(clinic.tenant_id) as s:
        s.add(
            WhatsAppMessage(
                tenant_id=clinic.tenant_id,
                direction="out",
                wa_message_id=ident,
                phone_number_id=number,
                contact_key="919876500001",
                msg_type="text",
                status=status_,
            )
        )
    return ident


def _inbox(inbound: Inbound, **kwargs: Any) -> WhatsAppInbox:
    return WhatsAppInbox(
        inbound.db,
        app_secret=inbound.secret,
        vault=inbound.vault,
        handler=_record(inbound),
        **kwargs,
    )


def _record(inbound: Inbound) -> Any:
    def handler(session: Any, actor: Actor, *, message: InboundMessage, vault: Any) -> None:
        inbound.handed.append(message)

    return handler


def test_a_sender_over_the_rate_limit_is_stored_but_not_processed(inbound):
    inbox = _inbox(inbound, limiter=InboundLimiter(per_sender="2/minute"))
    messages = [text_message(f"flood {i}", sender="919876500061") for i in range(3)]
    inbox_id = inbox.store(encode(delivery(change(inbound.number_a, messages=messages))))
    report = inbox.process(inbox_id)
    assert report is not None and (report.handled, report.throttled) == (2, 1)
    assert [m.text for m in inbound.handed] == ["flood 0", "flood 1"]
    (last,) = inbound.rows(WhatsAppMessage, WhatsAppMessage.wa_message_id == messages[2]["id"])
    assert last.status == "throttled"


def test_the_sweep_processes_a_delivery_left_pending_by_a_crash(inbound):
    clock = FrozenClock(dt.datetime.now(dt.UTC))
    inbox = _inbox(inbound, clock=clock)
    message = text_message("after a crash", sender="919876500071")
    inbox_id = inbox.store(encode(delivery(change(inbound.number_a, messages=[message]))))
    inbox.sweep()
    assert inbound.handed == [], "a fresh row may be in flight: the sweep leaves it"
    clock.advance(minutes=2)
    assert inbox.sweep() >= 1
    assert [m.text for m in inbound.handed] == ["after a crash"]
    assert inbound.rows(WebhookInbox, WebhookInbox.id == inbox_id)[0].status == "done"


def test_with_workers_the_sweep_enqueues_pending_deliveries_instead_of_processing_them(inbound):
    clock = FrozenClock(dt.datetime.now(dt.UTC))
    enqueued: list[int] = []
    inbox = _inbox(inbound, clock=clock, enqueue=enqueued.append)
    message = text_message("after a crash", sender="919876500072")
    inbox_id = inbox.store(encode(delivery(change(inbound.number_a, messages=[message]))))
    clock.advance(minutes=2)
    assert inbox.sweep() >= 1
    assert inbox_id in enqueued
    assert inbound.handed == [], "the service process handled it itself"
    assert inbound.rows(WebhookInbox, WebhookInbox.id == inbox_id)[0].status == "pending"


def test_with_redis_down_the_sweep_leaves_deliveries_pending(inbound):
    clock = FrozenClock(dt.datetime.now(dt.UTC))

    def broken(_inbox_id: int) -> None:
        raise ConnectionError("Redis is down")

    inbox = _inbox(inbound, clock=clock, enqueue=broken)
    message = text_message("while Redis is down", sender="919876500073")
    inbox_id = inbox.store(encode(delivery(change(inbound.number_a, messages=[message]))))
    clock.advance(minutes=2)
    inbox.sweep()
    assert inbound.handed == []
    assert inbound.rows(WebhookInbox, WebhookInbox.id == inbox_id)[0].status == "pending"


def test_a_body_that_is_json_but_not_the_envelope_is_marked_failed(inbound):
    response = inbound.post({"object": "whatsapp_business_account", "entry": "nope"})
    assert response.status_code == 200
    failed = inbound.rows(WebhookInbox, WebhookInbox.body.contains('"entry": "nope"'))
    assert failed and {row.status for row in failed} == {"failed"}


def test_a_status_finds_its_message_by_the_echoed_outbox_id(inbound):
    with inbound.db.transaction(inbound.a.tenant_id) as s:
        s.add(
            WhatsAppMessage(
                tenant_id=inbound.a.tenant_id,
                direction="out",
                wa_message_id=None,
                phone_number_id=inbound.number_a,
                contact_key="919876500081",
                msg_type="text",
                status="queued",
                outbox_id=987654,
            )
        )
    ident = wamid()
    echoed = status(ident, "sent", biz_opaque_callback_data="987654")
    inbound.post(delivery(change(inbound.number_a, statuses=[echoed])))
    (row,) = inbound.rows(WhatsAppMessage, WhatsAppMessage.wa_message_id == ident)
    assert row.status == "sent" and row.tenant_id == inbound.a.tenant_id


def test_a_delivery_that_always_fails_is_set_aside_after_five_attempts(inbound):
    def broken(session: Any, actor: Actor, *, message: InboundMessage, vault: Any) -> None:
        raise RuntimeError("conversation bug")

    inbox = WhatsAppInbox(
        inbound.db, app_secret=inbound.secret, vault=inbound.vault, handler=broken
    )
    message = text_message("poison", sender="919876500091")
    inbox_id = inbox.store(encode(delivery(change(inbound.number_a, messages=[message]))))
    for attempt in range(1, 6):
        assert inbox.process(inbox_id) is None
        (row,) = inbound.rows(WebhookInbox, WebhookInbox.id == inbox_id)
        assert row.attempts == attempt and "conversation bug" in (row.last_error or "")
        assert row.status == ("failed" if attempt == 5 else "pending")
    assert inbound.rows(WhatsAppMessage, WhatsAppMessage.wa_message_id == message["id"]) == []
