"""FHIR R4 Schedule, Slot and Appointment under /fhir: valid resources, one clinic per key."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fhir.resources.R4B.appointment import Appointment
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.schedule import Schedule
from fhir.resources.R4B.slot import Slot
from starlette.testclient import TestClient

from db.engine import Database
from qlink.asgi import create_app
from tests.web.conftest import settings_for
from tests.web.partner_support import partner_clinic

SLOT_STATUSES = {"busy", "free", "busy-unavailable", "busy-tentative", "entered-in-error"}
APPOINTMENT_STATUSES = {
    "proposed", "pending", "booked", "arrived", "fulfilled", "cancelled", "noshow",
    "entered-in-error", "checked-in", "waitlist",
}  # fmt: skip


@pytest.fixture
def client(db: Database, tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(settings_for(db, tmp_path), database=db)) as test_client:
        yield test_client


def test_schedules_slots_and_appointments_validate_as_fhir_r4(client, db):
    pc = partner_clinic(db)
    schedules = client.get("/fhir/Schedule", headers=pc.headers)
    assert schedules.headers["content-type"].startswith("application/fhir+json")
    bundle = Bundle.model_validate(schedules.json())
    assert bundle.type == "searchset" and bundle.total == 1
    schedule = Schedule.model_validate(schedules.json()["entry"][0]["resource"])
    assert schedule.id == f"{pc.doctor.id}-{pc.clinic.branch.id}"
    assert schedule.actor[0].reference == f"Practitioner/{pc.doctor.id}"
    read = client.get(f"/fhir/Schedule/{schedule.id}", headers=pc.headers)
    assert Schedule.model_validate(read.json()).id == schedule.id

    params = {"schedule": f"Schedule/{schedule.id}", "start": pc.tomorrow().isoformat()}
    slots = client.get("/fhir/Slot", params=params, headers=pc.headers).json()
    assert Bundle.model_validate(slots).total == 14  # the SPEC's 09:00-17:00 day, lunch off
    first = Slot.model_validate(slots["entry"][0]["resource"])
    assert first.status in SLOT_STATUSES and first.status == "free"
    assert first.schedule.reference == f"Schedule/{schedule.id}"

    made = client.post(
        "/api/v1/bookings",
        json={
            "doctor_id": pc.doctor.id,
            "branch_id": pc.clinic.branch.id,
            "slot_start": pc.at(9).isoformat(),
            "patient": {"name": "Meena Iyer", "phone": "9812345678"},
        },
        headers={**pc.headers, "Idempotency-Key": "fhir-1"},
    ).json()
    appt = client.get(f"/fhir/Appointment/{made['id']}", headers=pc.headers).json()
    resource = Appointment.model_validate(appt)
    assert resource.status == "booked" and resource.status in APPOINTMENT_STATUSES
    assert "Meena" not in str(appt)  # the patient is never named
    after = client.get("/fhir/Slot", params=params, headers=pc.headers).json()
    assert after["total"] == 13
    listed = Bundle.model_validate(client.get("/fhir/Appointment", headers=pc.headers).json())
    assert listed.total == 1
    client.post(f"/api/v1/bookings/{made['id']}/cancel", json={"reason": "x"}, headers=pc.headers)
    cancelled = client.get(f"/fhir/Appointment/{made['id']}", headers=pc.headers).json()
    assert Appointment.model_validate(cancelled).status == "cancelled"


def test_another_clinics_schedule_slots_and_appointments_are_404(client, db):
    a, b = partner_clinic(db), partner_clinic(db)
    sched = f"{b.doctor.id}-{b.clinic.branch.id}"
    assert client.get(f"/fhir/Schedule/{sched}", headers=a.headers).status_code == 404
    params = {"schedule": f"Schedule/{sched}", "start": b.tomorrow().isoformat()}
    assert client.get("/fhir/Slot", params=params, headers=a.headers).status_code == 404
    assert client.get("/fhir/Schedule", headers=a.headers).json()["total"] == 1
    assert client.get("/fhir/Appointment/1", headers=a.headers).status_code == 404
    assert client.get("/fhir/Schedule").status_code == 401
    bad = client.get("/fhir/Slot", params={"schedule": "x"}, headers=a.headers)
    assert bad.status_code == 422
