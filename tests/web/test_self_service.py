"""The patient's records page /me/{ref}: only that patient's rows; expired, tampered and
revoked links refused; cancel and reschedule from the page; documents and bills download."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from core.billing import bills, payments
from core.billing import catalogue as billing_catalogue
from core.documents.store import save_document
from core.patients.phones import PhoneVault
from core.patients.record_links import issue_records_link, revoke_records_links
from core.patients.registry import register_patient
from core.queue.issuing import issue_token
from core.scheduling.booking import book_appointment
from core.signage.links import sign_token_ref
from db.engine import Database
from db.models import Appointment, AuditEntry
from qlink.asgi import create_app
from tests.support import Clinic, add_doctor, make_clinic
from tests.web.conftest import SECRET, settings_for

PDF = b"%PDF-1.7\n%%EOF\n"
VAULT = PhoneVault("k" * 43)


@dataclass
class Records:
    db: Database
    clinic: Clinic
    patient_id: int
    other_id: int
    appointment_id: int
    document_id: int
    other_document_id: int
    bill_id: int
    payment_id: int

    def link(self, *, patient_id: int | None = None, ttl: dt.timedelta = dt.timedelta(days=7)):
        with self.db.transaction(self.clinic.tenant_id) as s:
            return issue_records_link(
                s, self.clinic.system, patient_id=patient_id or self.patient_id, secret=SECRET,
                ttl=ttl,
            )  # fmt: skip


def make_records(db: Database) -> Records:
    with db.transaction("*") as s:
        clinic = make_clinic(s, f"me-{uuid.uuid4().hex[:8]}")
        doctor = add_doctor(s, clinic, weekdays=tuple(range(7)))
        desk = clinic.system
        me = register_patient(s, desk, vault=VAULT, full_name="Meena Iyer").patient
        other = register_patient(s, desk, vault=VAULT, full_name="Ravi Kumar").patient
        tomorrow = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
        slot = tomorrow.replace(hour=5, minute=30, second=0, microsecond=0)  # 11:00 IST
        appt = book_appointment(s, desk, doctor_id=doctor.id, patient_id=me.id, slot_start=slot)
        book_appointment(
            s, desk, doctor_id=doctor.id, patient_id=other.id, slot_start=slot.replace(hour=6)
        )
        token = issue_token(
            s, desk, patient_id=me.id, department_id=clinic.department.id, kind="walk_in"
        )
        doc = save_document(
            s, desk, patient_id=me.id, kind="prescription", filename="Rx-Meena.pdf", content=PDF
        )
        other_doc = save_document(
            s, desk, patient_id=other.id, kind="prescription", filename="Rx-Ravi.pdf", content=PDF
        )
        bill = bills.open_bill(s, desk, token_id=token.id)
        item = billing_catalogue.add_catalogue_item(
            s, desk, code="ECG", name="ECG", kind="test", unit_price_minor=30000
        )
        bills.add_item(s, desk, bill_id=bill.id, catalogue_item_id=item.id)
        pay = payments.record_payment(s, desk, bill_id=bill.id, mode="cash", amount_minor=10000)
        return Records(db, clinic, me.id, other.id, appt.id, doc.id, other_doc.id, bill.id, pay.id)


@pytest.fixture
def client(db: Database, tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(settings_for(db, tmp_path), database=db)) as test_client:
        yield test_client


@pytest.fixture
def rec(db: Database) -> Records:
    return make_records(db)


def test_page_shows_the_patients_own_records_and_is_audited(client, rec, db):
    page = client.get(f"/me/{rec.link()}")
    assert page.status_code == 200
    assert "Hello, Meena" in page.text and "Rx-Meena.pdf" in page.text
    assert "Ravi" not in page.text and "Rx-Ravi.pdf" not in page.text
    assert "GEN-001" in page.text and "Receipt R-" in page.text and "Reschedule" in page.text
    assert page.headers["cache-control"] == "no-store"
    assert "script-src 'self'" in page.headers["content-security-policy"]
    with db.transaction(rec.clinic.tenant_id, readonly=True) as s:
        views = s.scalars(
            select(AuditEntry.entity_id).where(
                AuditEntry.tenant_id == rec.clinic.tenant_id,  # the shared test database
                AuditEntry.action == "patient.self_service.view",
            )
        ).all()
    assert views == [str(rec.patient_id)]


def test_downloads_only_the_patients_own_documents_bills_and_receipts(client, rec):
    ref = rec.link()
    doc = client.get(f"/me/{ref}/documents/{rec.document_id}")
    assert doc.status_code == 200 and doc.content == PDF
    assert "attachment" in doc.headers["content-disposition"]
    assert client.get(f"/me/{ref}/documents/{rec.other_document_id}").status_code == 404
    assert client.get(f"/me/{ref}/bills/{rec.bill_id}").content.startswith(b"%PDF")
    assert client.get(f"/me/{ref}/receipts/{rec.payment_id}").content.startswith(b"%PDF")
    other = rec.link(patient_id=rec.other_id)
    assert client.get(f"/me/{other}/documents/{rec.document_id}").status_code == 404
    assert client.get(f"/me/{other}/bills/{rec.bill_id}").status_code == 404
    assert client.get(f"/me/{other}/receipts/{rec.payment_id}").status_code == 404
    cancel = client.post(f"/me/{other}/appointments/{rec.appointment_id}/cancel")
    assert cancel.status_code == 404


def test_expired_tampered_foreign_and_revoked_links_are_refused(client, rec, db):
    good = rec.link()
    expired = rec.link(ttl=dt.timedelta(seconds=-1))
    tampered = good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB")
    token_link = sign_token_ref(
        SECRET,
        rec.patient_id,
        rec.clinic.tenant_id,
        dt.datetime.now(dt.UTC) + dt.timedelta(hours=1),
    )
    for ref in (expired, tampered, token_link, "nonsense"):
        refused = client.get(f"/me/{ref}")
        assert refused.status_code == 403 and "Meena" not in refused.text
    assert client.get(f"/me/{good}").status_code == 200
    with db.transaction(rec.clinic.tenant_id) as s:
        revoke_records_links(s, rec.clinic.admin, patient_id=rec.patient_id)
    revoked = client.get(f"/me/{good}")
    assert revoked.status_code == 403 and "not valid any more" in revoked.text
    assert client.get(f"/me/{good}/documents/{rec.document_id}").status_code == 403
    assert client.get(f"/me/{rec.link()}").status_code == 200  # a new link works


def test_cancel_and_reschedule_from_the_page(client, rec, db):
    ref = rec.link()
    form = client.get(f"/me/{ref}/appointments/{rec.appointment_id}/reschedule")
    assert form.status_code == 200 and "Pick a new time" in form.text
    slot = form.text.split("name='slot' value='")[1].split("'")[0]
    moved = client.post(
        f"/me/{ref}/appointments/{rec.appointment_id}/reschedule",
        data={"slot": slot},
        follow_redirects=False,
    )
    assert moved.status_code == 303
    with db.transaction(rec.clinic.tenant_id, readonly=True) as s:
        mine = s.scalars(
            select(Appointment).where(
                Appointment.patient_id == rec.patient_id, Appointment.status == "scheduled"
            )
        ).all()
    assert [int(a.slot_start.timestamp()) for a in mine] == [int(slot)]
    gone = client.post(f"/me/{ref}/appointments/{mine[0].id}/cancel", follow_redirects=False)
    assert gone.status_code == 303
    assert "None booked." in client.get(f"/me/{ref}").text


def test_request_logs_never_carry_the_link(client, rec, caplog):
    ref = rec.link()
    with caplog.at_level("INFO", logger="qlink.http"):
        client.get(f"/me/{ref}")
    lines = [r.getMessage() for r in caplog.records if r.name == "qlink.http"]
    assert lines and all(ref not in line for line in lines)
    assert "/me/…" in [json.loads(line).get("path") for line in lines]
