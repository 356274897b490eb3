"""/api/v1 for partners: one clinic per key, idempotent bookings, rate limits, CORS, OpenAPI."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from api.limits import PartnerLimiter
from db.engine import Database
from qlink.asgi import create_app
from tests.web.conftest import settings_for
from tests.web.partner_support import PartnerClinic, partner_clinic

ORIGIN = "https://www.citycare.example"


@pytest.fixture
def client(db: Database, tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(settings_for(db, tmp_path), database=db)) as test_client:
        yield test_client


def body(pc: PartnerClinic, hour: int = 10, phone: str = "9812345678") -> dict:
    return {
        "doctor_id": pc.doctor.id,
        "branch_id": pc.clinic.branch.id,
        "slot_start": pc.at(hour).isoformat(),
        "patient": {"name": "Meena Iyer", "phone": phone, "age": 34},
    }


def book(client: TestClient, pc: PartnerClinic, key: str = "order-1", **kw):
    return client.post(
        "/api/v1/bookings", json=body(pc, **kw), headers={**pc.headers, "Idempotency-Key": key}
    )


def test_availability_then_booking_then_status_cancel_and_reschedule(client, db):
    pc = partner_clinic(db)
    params = {"doctor_id": pc.doctor.id, "branch_id": pc.clinic.branch.id, "date": pc.tomorrow()}
    free = client.get("/api/v1/slots/availability", params=params, headers=pc.headers)
    assert free.status_code == 200
    assert [s["local_start"] for s in free.json()["slots"]][:3] == ["09:00", "09:30", "10:00"]
    made = book(client, pc)
    assert made.status_code == 201 and made.json()["status"] == "scheduled"
    ident = made.json()["id"]
    after = client.get("/api/v1/slots/availability", params=params, headers=pc.headers).json()
    assert "10:00" not in [s["local_start"] for s in after["slots"]]
    assert client.get(f"/api/v1/bookings/{ident}", headers=pc.headers).json()["id"] == ident
    moved = client.post(
        f"/api/v1/bookings/{ident}/reschedule",
        json={"slot_start": pc.at(11).isoformat()},
        headers=pc.headers,
    )
    assert moved.status_code == 200 and moved.json()["id"] != ident
    old = client.get(f"/api/v1/bookings/{ident}", headers=pc.headers).json()
    assert old["status"] == "cancelled"
    url = f"/api/v1/bookings/{moved.json()['id']}/cancel"
    gone = client.post(url, json={"reason": "unwell"}, headers=pc.headers)
    assert gone.json()["status"] == "cancelled"


def test_same_idempotency_key_same_body_is_one_booking_other_body_is_409(client, db):
    pc = partner_clinic(db)
    first, second = book(client, pc), book(client, pc)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json() == second.json()
    assert second.headers["idempotency-replayed"] == "true"
    other = book(client, pc, hour=11)
    assert other.status_code == 409 and other.json()["error"]["code"] == "conflict"
    missing = client.post("/api/v1/bookings", json=body(pc, hour=12), headers=pc.headers)
    assert missing.status_code == 422


def test_a_taken_slot_is_409_with_alternatives(client, db):
    pc = partner_clinic(db)
    assert book(client, pc, key="a").status_code == 201
    lost = book(client, pc, key="b", phone="9822222222")
    assert lost.status_code == 409 and lost.json()["error"]["code"] == "slot_taken"
    assert len(lost.json()["alternatives"]) == 3


def test_key_of_clinic_a_cannot_read_or_book_clinic_b(client, db):
    a, b = partner_clinic(db), partner_clinic(db)
    made = book(client, b).json()["id"]
    assert client.get(f"/api/v1/bookings/{made}", headers=a.headers).status_code == 404
    cross = client.post(
        "/api/v1/bookings", json=body(b), headers={**a.headers, "Idempotency-Key": "x"}
    )
    assert cross.status_code == 404
    params = {"doctor_id": b.doctor.id, "branch_id": b.clinic.branch.id, "date": b.tomorrow()}
    slots = client.get("/api/v1/slots/availability", params=params, headers=a.headers)
    assert slots.status_code == 404
    cancel = client.post(f"/api/v1/bookings/{made}/cancel", json={"reason": "x"}, headers=a.headers)
    assert cancel.status_code == 404
    assert client.get(f"/api/v1/bookings/{made}", headers=b.headers).status_code == 200


def test_missing_wrong_or_revoked_key_is_401(client, db):
    from core.partners.keys import revoke_api_client

    pc = partner_clinic(db)
    url = "/api/v1/bookings/1"
    assert client.get(url).status_code == 401
    assert client.get(url, headers={"Authorization": pc.key}).status_code == 401
    assert client.get(url, headers={"Authorization": f"Bearer {pc.key}x"}).status_code == 401
    with db.transaction(pc.clinic.tenant_id) as s:
        revoke_api_client(s, pc.clinic.admin, client_id=pc.client_id)
    assert client.get(url, headers=pc.headers).json()["error"]["message"] == (
        "This API key was revoked"
    )


def test_rate_limits_answer_429_with_retry_after(client, db):
    pc = partner_clinic(db)
    client.app.state.partner_limiter = PartnerLimiter(per_key="3/minute", per_ip="100/minute")
    codes = [client.get("/api/v1/bookings/1", headers=pc.headers).status_code for _ in range(4)]
    assert codes == [404, 404, 404, 429]
    limited = client.get("/api/v1/bookings/1", headers=pc.headers)
    assert limited.status_code == 429 and 1 <= int(limited.headers["retry-after"]) <= 60
    client.app.state.partner_limiter = PartnerLimiter(per_key="100/minute", per_ip="2/minute")
    codes = [client.get("/api/v1/bookings/1").status_code for _ in range(3)]
    assert codes == [401, 401, 429]


def test_cors_only_for_the_keys_clinics_origins(client, db):
    pc = partner_clinic(db, origin=ORIGIN)
    other = partner_clinic(db)
    ok = client.get("/api/v1/bookings/1", headers={**pc.headers, "Origin": ORIGIN})
    assert ok.headers["access-control-allow-origin"] == ORIGIN
    foreign = client.get("/api/v1/bookings/1", headers={**other.headers, "Origin": ORIGIN})
    assert "access-control-allow-origin" not in foreign.headers
    evil = client.get(
        "/api/v1/bookings/1", headers={**pc.headers, "Origin": "https://evil.example"}
    )
    assert "access-control-allow-origin" not in evil.headers
    pre = {"Origin": ORIGIN, "Access-Control-Request-Method": "POST"}
    answered = client.options("/api/v1/bookings", headers=pre)
    assert answered.status_code == 204
    assert "Idempotency-Key" in answered.headers["access-control-allow-headers"]
    refused = client.options("/api/v1/bookings", headers={**pre, "Origin": "https://evil.example"})
    assert refused.status_code == 403 and "access-control-allow-origin" not in refused.headers


def test_openapi_document_is_3_1_with_the_models(client):
    doc = client.get("/api/v1/openapi.json").json()
    assert doc["openapi"] == "3.1.0"
    assert {"BookingIn", "BookingOut", "AvailabilityOut", "ErrorOut"} <= set(
        doc["components"]["schemas"]
    )
    create = doc["paths"]["/bookings"]["post"]
    assert create["parameters"][0]["name"] == "Idempotency-Key"
    assert create["parameters"][0]["required"] is True
