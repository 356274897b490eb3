"""Stored documents: the desk saves a PDF for a patient, reads it back, queues it for WhatsApp."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select

from core.documents import store
from core.errors import NotFound, PermissionDenied, ValidationFailed
from core.patients import registry
from core.patients.phones import PhoneVault
from db.models import OutboxMessage

VAULT = PhoneVault("test-key")
PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\n%%EOF\n"


@pytest.fixture
def patient_id(session, clinic_a):
    return registry.register_patient(
        session, clinic_a.receptionist, vault=VAULT, full_name="Ravi Rao", phone="98765 43210"
    ).patient.id


def test_saved_receipt_reads_back_with_its_size_and_hash(session, clinic_a, patient_id):
    desk = clinic_a.receptionist
    doc = store.save_document(
        session, desk, patient_id=patient_id, kind="receipt", filename="R-0001.pdf", content=PDF
    )
    assert (doc.kind, doc.filename, doc.mime, doc.size) == (
        "receipt",
        "R-0001.pdf",
        "application/pdf",
        len(PDF),
    )
    assert doc.sha256 == hashlib.sha256(PDF).hexdigest()
    assert doc.created_by == desk.user_id
    assert store.access_document(session, desk, doc.id).id == doc.id
    assert store.document_content(session, desk, doc.id) == PDF


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"content": b""}, "content"),
        ({"content": b"x" * (store.MAX_BYTES + 1)}, "content"),
        ({"mime": "application/x-msdownload"}, "mime"),
        ({"kind": "selfie"}, "kind"),
        ({"filename": "../../etc/passwd"}, "filename"),
        ({"filename": "  "}, "filename"),
    ],
)
def test_bad_documents_are_refused_and_nothing_is_stored(
    session, clinic_a, patient_id, changes, field
):
    args = {"kind": "receipt", "filename": "R.pdf", "content": PDF, **changes}
    with pytest.raises(ValidationFailed) as err:
        store.save_document(session, clinic_a.receptionist, patient_id=patient_id, **args)
    assert err.value.field == field


def test_ten_megabytes_exactly_is_accepted(session, clinic_a, patient_id):
    big = b"%PDF" + b"0" * (store.MAX_BYTES - 4)
    doc = store.save_document(
        session,
        clinic_a.system,
        patient_id=patient_id,
        kind="lab_report",
        filename="L.pdf",
        content=big,
    )
    assert doc.size == store.MAX_BYTES


def test_another_clinics_patient_and_document_are_not_found(
    session, clinic_a, clinic_b, patient_id
):
    with pytest.raises(NotFound):
        store.save_document(
            session,
            clinic_b.receptionist,
            patient_id=patient_id,
            kind="bill",
            filename="B.pdf",
            content=PDF,
        )
    doc = store.save_document(
        session,
        clinic_a.receptionist,
        patient_id=patient_id,
        kind="bill",
        filename="B.pdf",
        content=PDF,
    )
    for call in (store.access_document, store.document_content):
        with pytest.raises(NotFound):
            call(session, clinic_b.receptionist, doc.id)
    with pytest.raises(NotFound):
        store.send_document(session, clinic_b.receptionist, document_id=doc.id, caption="x")
    assert store.stored_bytes(session, clinic_b.tenant_id, doc.id) is None


def test_a_lab_technician_may_store_a_report_but_not_without_a_role(session, clinic_a, patient_id):
    doc = store.save_document(
        session,
        clinic_a.lab,
        patient_id=patient_id,
        kind="lab_report",
        filename="CBC.pdf",
        content=PDF,
    )
    assert doc.kind == "lab_report"
    from dataclasses import replace

    with pytest.raises(PermissionDenied):
        store.save_document(
            session,
            replace(clinic_a.lab, role="patient"),
            patient_id=patient_id,
            kind="lab_report",
            filename="CBC.pdf",
            content=PDF,
        )


def test_send_document_writes_one_outbox_intent_and_sends_nothing(session, clinic_a, patient_id):
    desk = clinic_a.receptionist
    doc = store.save_document(
        session, desk, patient_id=patient_id, kind="prescription", filename="Rx.pdf", content=PDF
    )
    row = store.send_document(
        session, desk, document_id=doc.id, caption="Your prescription", dedupe_key="rx:1"
    )
    again = store.send_document(
        session, desk, document_id=doc.id, caption="Your prescription", dedupe_key="rx:1"
    )
    assert again.id == row.id
    rows = (
        session.execute(
            select(OutboxMessage).where(
                OutboxMessage.tenant_id == clinic_a.tenant_id, OutboxMessage.kind == store.DOCUMENT
            )
        )
        .scalars()
        .all()
    )
    assert [(r.status, r.payload) for r in rows] == [
        (
            "pending",
            {"document_id": doc.id, "patient_id": patient_id, "caption": "Your prescription"},
        )
    ]
    with pytest.raises(ValidationFailed):
        store.send_document(session, desk, document_id=doc.id, caption="x" * 1025)
