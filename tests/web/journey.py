"""One new patient's whole WhatsApp journey through the real service, for the end-to-end tests.

"hi" → name → age → book a slot by tapping list rows → "CHECKIN <branch>" → called. Each step
posts a signed Meta-shaped delivery and waits (poll with timeout) until the replies it caused
were sent to the fake Graph server; the replies returned are what the fake server received.
Works against any service: a TestClient (in-process inbox and relay) or a live uvicorn with
``qlink worker`` processes on Redis.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from core import tenancy
from core.queue.calling import call_next
from core.queue.issuing import issue_token
from core.queue.lifecycle import finish_token, start_consultation
from core.scheduling.day_view import day_board
from db.engine import ALL_TENANTS, Database
from db.models import Appointment, OutboxMessage, Patient, QueueToken
from tests.fakes.graph import FakeGraph, Request
from tests.support import Clinic, add_doctor, make_clinic, register_patients
from tests.web.whatsapp_support import change, contact, delivery, encode, sign, wamid

Post = Callable[[bytes, dict[str, str]], int]  # body, headers → HTTP status
EVERY_DAY = (0, 1, 2, 3, 4, 5, 6)  # the tests run on the real clock, any day of the week
TIMEOUT = 30.0


def poll(check: Callable[[], Any], timeout: float = TIMEOUT, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"{what} not met within {timeout} s")


def open_clinic(db: Database, phone_number_id: str) -> tuple[Clinic, int]:
    """A clinic with a doctor working every day and a WhatsApp number; return it and the doctor."""
    with db.transaction(ALL_TENANTS) as s:
        clinic = make_clinic(s)
        doctor = add_doctor(s, clinic, weekdays=EVERY_DAY)
        tenancy.register_whatsapp_number(
            s, clinic.admin, phone_number_id=phone_number_id, branch_id=clinic.branch.id
        )
        return clinic, doctor.id


def text(body: str) -> dict[str, Any]:
    return {"type": "text", "text": {"body": body}}


def tap_row(row_id: str, title: str = "") -> dict[str, Any]:
    reply = {"type": "list_reply", "list_reply": {"id": row_id, "title": title or row_id}}
    return {"type": "interactive", "interactive": reply}


def tap_button(button_id: str, title: str = "") -> dict[str, Any]:
    reply = {"type": "button_reply", "button_reply": {"id": button_id, "title": title or button_id}}
    return {"type": "interactive", "interactive": reply}


def body_text(request: Request) -> str:
    body = request.body
    if body.get("type") == "text":
        return str(body["text"]["body"])
    if body.get("type") == "interactive":
        return str(body["interactive"]["body"]["text"])
    return ""


def row_ids(request: Request) -> list[str]:
    action = request.body["interactive"]["action"]
    return [row["id"] for section in action["sections"] for row in section["rows"]]


def button_ids(request: Request) -> list[str]:
    return [b["reply"]["id"] for b in request.body["interactive"]["action"]["buttons"]]


@dataclasses.dataclass
class Journey:
    """A contact ``wa_id`` talking to clinic number ``phone_number_id`` through ``post``."""

    db: Database
    fake: FakeGraph
    post_raw: Post
    secret: str
    clinic: Clinic
    phone_number_id: str
    wa_id: str
    name: str = "Meena"

    def deliver(self, message: dict[str, Any]) -> list[Request]:
        """Post one inbound message; return the replies the fake Graph server received for it."""
        mid = wamid()
        message = {"from": self.wa_id, "id": mid, "timestamp": str(int(time.time())), **message}
        payload = delivery(
            change(
                self.phone_number_id,
                messages=[message],
                contacts=[contact(self.wa_id, name=self.name)],
            )
        )
        body = encode(payload)
        headers = {
            "Content-Type": "application/json",
            "X-Hub-Signature-256": sign(body, self.secret),
        }
        assert self.post_raw(body, headers) == 200
        ids = poll(lambda: self._sent(OutboxMessage.dedupe_key.like(f"conv:{mid}:%")), what=mid)
        return self.requests_for(ids)

    def say(self, words: str) -> list[Request]:
        return self.deliver(text(words))

    def tap(self, row_id: str) -> list[Request]:
        return self.deliver(tap_row(row_id))

    def press(self, button_id: str) -> list[Request]:
        return self.deliver(tap_button(button_id))

    def _sent(self, *where: Any) -> list[int] | None:
        """The ids of the matching outbox rows once there are some and all were sent."""
        with self.db.transaction(ALL_TENANTS, readonly=True) as s:
            rows = s.execute(
                select(OutboxMessage.id, OutboxMessage.status).where(
                    OutboxMessage.tenant_id == self.clinic.tenant_id, *where
                )
            ).all()
        if rows and all(status == "sent" for _, status in rows):
            return sorted(row_id for row_id, _ in rows)
        return None

    def requests_for(self, outbox_ids: list[int]) -> list[Request]:
        wanted = {str(i) for i in outbox_ids}
        found = [r for r in self.fake.requests if r.body.get("biz_opaque_callback_data") in wanted]
        assert len(found) == len(outbox_ids), "each reply sent exactly once"
        assert all(r.body["to"] == self.wa_id for r in found)
        return found

    def wait_intents(self, kind: str, token_id: int) -> list[Request]:
        """The queue notifications of ``kind`` for ``token_id`` once they were all sent."""

        def sent() -> list[int] | None:
            with self.db.transaction(ALL_TENANTS, readonly=True) as s:
                rows = s.execute(
                    select(OutboxMessage.id, OutboxMessage.status, OutboxMessage.payload).where(
                        OutboxMessage.tenant_id == self.clinic.tenant_id,
                        OutboxMessage.kind == kind,
                    )
                ).all()
            mine = [(i, st) for i, st, p in rows if (p or {}).get("token_id") == token_id]
            if mine and all(st == "sent" for _, st in mine):
                return [i for i, _ in mine]
            return None

        try:
            ids = poll(sent, what=f"{kind} for token {token_id}")
        except AssertionError:
            raise AssertionError(
                f"{kind} for token {token_id} not sent: {self._outbox()}"
            ) from None
        return self.requests_for(ids)

    def _outbox(self) -> list[tuple[Any, ...]]:
        with self.db.transaction(ALL_TENANTS, readonly=True) as s:
            rows = s.execute(
                select(OutboxMessage.kind, OutboxMessage.status, OutboxMessage.payload).where(
                    OutboxMessage.tenant_id == self.clinic.tenant_id,
                    OutboxMessage.kind != "whatsapp.send",
                )
            ).all()
        return [tuple(r) for r in rows]


def walk_through(journey: Journey, doctor_id: int) -> None:
    """The whole journey, asserting each step on what reached the fake Graph server."""
    db, clinic = journey.db, journey.clinic
    assert "full name" in " ".join(body_text(r) for r in journey.say("hi"))
    assert "How old" in " ".join(body_text(r) for r in journey.say("Asha Verma"))
    registered = journey.say("34")
    assert "You are registered, Asha Verma" in " ".join(body_text(r) for r in registered)
    assert "menu:book" in row_ids(registered[-1])

    departments = journey.tap("menu:book")[-1]
    doctors = journey.tap(row_ids(departments)[0])[-1]
    assert row_ids(doctors) == [f"doc:{doctor_id}"]
    dates = journey.tap(row_ids(doctors)[0])[-1]
    slots = journey.tap(row_ids(dates)[0])[-1]
    slot = next(r for r in row_ids(slots) if r.startswith("slot:"))
    confirm = journey.tap(slot)[-1]
    assert button_ids(confirm)[0] == "book:yes"
    booked = journey.press("book:yes")
    assert "Booked: Dr. Asha Rao" in " ".join(body_text(r) for r in booked)

    with db.transaction(ALL_TENANTS, readonly=True) as s:
        patient = s.scalars(
            select(Patient).where(
                Patient.tenant_id == clinic.tenant_id, Patient.full_name == "Asha Verma"
            )
        ).one()
        appt = s.scalars(select(Appointment).where(Appointment.patient_id == patient.id)).one()
        assert (appt.source, appt.status, appt.doctor_id) == ("whatsapp", "scheduled", doctor_id)
    with db.transaction(clinic.tenant_id, readonly=True) as s:
        board = day_board(
            s, clinic.receptionist, branch_id=clinic.branch.id, on_date=appt.service_date
        )
        on_board = [
            row
            for day in board.doctors
            for row in day.rows
            if getattr(row, "appointment_id", None) == appt.id
        ]
        assert len(on_board) == 1, "the booking shows on the reception day board"

    # Others wait ahead (no phones: nothing is sent to them), so near-turn fires only on calls.
    ahead = 4
    with db.transaction(clinic.tenant_id) as s:
        for other in register_patients(s, clinic, ahead, prefix="Ahead"):
            issue_token(
                s,
                clinic.receptionist,
                patient_id=other,
                department_id=clinic.department.id,
                kind="walk_in",
            )
    checked_in = journey.say(f"CHECKIN {clinic.branch.slug}")
    with db.transaction(ALL_TENANTS, readonly=True) as s:
        token = s.scalars(select(QueueToken).where(QueueToken.patient_id == patient.id)).one()
    assert f"Your token: {token.code}" in " ".join(body_text(r) for r in checked_in)

    for _ in range(ahead + 1):  # the doctor sees each patient ahead, then calls the next
        with db.transaction(clinic.tenant_id) as s:
            called = call_next(s, clinic.system, doctor_id=doctor_id)
            assert called is not None
            if called.id == token.id:
                break
            start_consultation(s, clinic.system, token_id=called.id)
            finish_token(s, clinic.system, token_id=called.id)
    else:
        raise AssertionError("the patient's token was never called")
    (near,) = journey.wait_intents("whatsapp.near_turn", token.id)
    (now_serving,) = journey.wait_intents("whatsapp.now_serving", token.id)
    assert token.code in body_text(now_serving) or now_serving.body["type"] == "template"
    assert near.body["to"] == journey.wa_id
