"""The WhatsApp simulator over real HTTP: signed deliveries in, recorded sends out, statuses back.

Each test serves a fresh database with the simulator on and ``WHATSAPP_GRAPH_URL`` pointing at
the service's own fake Graph API, so the in-process relay sends through it (like ``qlink demo``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from core import tenancy
from db.engine import ALL_TENANTS, Database
from db.migrate import upgrade
from db.models.messaging import WebhookInbox, WhatsAppStatusEvent
from qlink.asgi import create_app
from qlink.settings import DEMO_APP_SECRET, Settings
from tests.web.conftest import SECRET, Floor, LiveServer, free_port, make_floor
from webhooks.simulator import SimulatorRefused
from webhooks.simulator.payloads import PayloadError, Sender, inbound_message

TOKEN = "simulator-test-token"


@dataclass
class Simulated:
    server: LiveServer
    floor: Floor
    number: str

    def send(self, *messages: dict[str, Any], **who: str) -> httpx.Response:
        body = {"phone_number_id": self.number, "name": "Meena", **who, "messages": list(messages)}
        return httpx.post(f"{self.server.url}/simulator/api/send", json=body, timeout=10)

    def outbound(self) -> list[dict[str, Any]]:
        answer = httpx.get(f"{self.server.url}/simulator/api/outbound", timeout=10)
        messages: list[dict[str, Any]] = answer.json()["messages"]
        return messages


def simulator_env(url: str, port: int) -> dict[str, str]:
    return {
        "QLINK_DATABASE_URL": url,
        "QLINK_SECRET_KEY": SECRET,
        "QLINK_DATA_KEY": "k" * 43,
        "QLINK_WHATSAPP_SIMULATOR": "1",
        "WHATSAPP_GRAPH_URL": f"http://127.0.0.1:{port}/simulator/graph/v24.0",
        "WHATSAPP_ACCESS_TOKEN": TOKEN,
    }


@pytest.fixture
def simulated(fresh_url: str, tmp_path: Path) -> Iterator[Simulated]:
    db = Database.from_url(fresh_url)
    upgrade(db.engine)
    floor = make_floor(db)
    number = str(900000 + floor.tenant_id)
    with db.transaction(floor.tenant_id) as s:
        tenancy.register_whatsapp_number(
            s,
            floor.clinic.admin,
            phone_number_id=number,
            branch_id=floor.clinic.branch.id,
            display_number="+91 99999 00001",
        )
    port = free_port()
    settings = Settings.from_env(simulator_env(fresh_url, port), var_dir=tmp_path)
    app = create_app(settings, database=db, poll_seconds=0.05)
    server = LiveServer(app, port).start()
    try:
        yield Simulated(server, floor, number)
    finally:
        server.stop()
        db.dispose()


def eventually(check: Callable[[], Any], timeout: float = 15.0) -> Any:
    """Poll ``check`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout}s")


def test_a_signed_hi_reaches_the_webhook_and_the_answer_comes_back_with_statuses(simulated):
    answer = simulated.send({"type": "text", "body": "hi"}, wa_id="919876500011")

    assert answer.status_code == 200, answer.text
    assert answer.json()["webhook_status"] == 200  # a wrong signature would be 403
    (wamid,) = answer.json()["wamids"]
    db = simulated.floor.db
    with db.transaction(ALL_TENANTS, readonly=True) as s:
        bodies = s.scalars(select(WebhookInbox.body)).all()
    stored = [b for b in bodies if b and wamid in b]
    assert len(stored) == 1  # the exact Meta envelope, stored raw
    assert f'"phone_number_id":"{simulated.number}"' in stored[0]
    assert '"from":"919876500011"' in stored[0] and '"wa_id":"919876500011"' in stored[0]

    sent = eventually(simulated.outbound)
    first = sent[0]
    assert first["party"] == "919876500011"
    assert first["body"]["to"] == "919876500011"
    assert "full name" in first["body"]["text"]["body"]

    def statuses() -> set[str] | None:
        with db.transaction(ALL_TENANTS, readonly=True) as s:
            found = set(
                s.scalars(
                    select(WhatsAppStatusEvent.status).where(
                        WhatsAppStatusEvent.wa_message_id == first["wamid"]
                    )
                )
            )
        return found if found == {"sent", "delivered", "read"} else None

    eventually(statuses)
    eventually(lambda: simulated.outbound()[0]["status"] == "read")


def test_a_username_only_sender_and_a_batch_of_two_are_answered_by_bsuid(simulated):
    bsuid = "IN.SIMTEST0001"
    answer = simulated.send(
        {"type": "text", "body": "hi"}, {"type": "text", "body": "hello?"}, user_id=bsuid
    )

    assert answer.status_code == 200, answer.text
    assert len(answer.json()["wamids"]) == 2
    sent = eventually(simulated.outbound)
    assert sent[0]["body"]["recipient"] == bsuid and "to" not in sent[0]["body"]


def test_the_fake_graph_refuses_a_wrong_token_like_meta(simulated):
    url = f"{simulated.server.url}/simulator/graph/v24.0/{simulated.number}/messages"
    body = {"messaging_product": "whatsapp", "to": "919876500012", "type": "text"}

    wrong = httpx.post(url, json=body, headers={"Authorization": "Bearer nope"}, timeout=10)
    right = httpx.post(url, json=body, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)

    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == 190
    assert right.status_code == 200
    assert right.json()["messages"][0]["message_status"] == "accepted"
    assert right.json()["contacts"] == [{"input": "919876500012", "wa_id": "919876500012"}]


def test_a_bad_request_from_the_page_is_refused_before_anything_is_sent(simulated):
    empty = simulated.send({"type": "text", "body": "  "}, wa_id="919876500013")
    nobody = simulated.send({"type": "text", "body": "hi"})

    assert empty.status_code == 400 and nobody.status_code == 400
    assert simulated.outbound() == []


def test_a_tap_carries_the_bubble_wamid_and_the_row_id():
    sender = Sender(wa_id="919876500014", user_id=None, name="Meena")
    tap = {"type": "list_reply", "id": "menu:book", "title": "Book", "context_id": "wamid.X"}

    message = inbound_message(sender, tap, wamid="wamid.Y", timestamp=1, business="15550000000")

    assert message["context"] == {"from": "15550000000", "id": "wamid.X"}
    assert message["interactive"] == {
        "type": "list_reply",
        "list_reply": {"id": "menu:book", "title": "Book"},
    }
    with pytest.raises(PayloadError):
        inbound_message(
            sender, {"type": "button_reply", "id": "x"}, wamid="w", timestamp=1, business="1"
        )


def _settings(tmp_path: Path, **env: str) -> Settings:
    base = {"QLINK_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "QLINK_DATA_KEY": "k" * 43}
    return Settings.from_env({**base, **env}, var_dir=tmp_path)


def test_the_simulator_refuses_to_run_against_meta_with_a_token(tmp_path):
    live = _settings(
        tmp_path,
        QLINK_WHATSAPP_SIMULATOR="1",
        WHATSAPP_ACCESS_TOKEN="EAAG-real-looking",
        WHATSAPP_GRAPH_URL="https://graph.facebook.com/v24.0",
    )

    with pytest.raises(SimulatorRefused, match=r"WHATSAPP_ACCESS_TOKEN.*graph\.facebook\.com"):
        create_app(live)


def test_the_simulator_is_mounted_only_when_enabled(tmp_path):
    off = create_app(_settings(tmp_path))
    on = create_app(_settings(tmp_path, QLINK_WHATSAPP_SIMULATOR="1"))
    try:
        paths = {getattr(r, "path", "") for r in on.routes}
        assert "/simulator" in paths
        assert "/simulator" not in {getattr(r, "path", "") for r in off.routes}
        assert on.state.settings.whatsapp_app_secret == DEMO_APP_SECRET
    finally:
        off.state.database.dispose()
        on.state.database.dispose()
