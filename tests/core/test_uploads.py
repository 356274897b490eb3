"""Uploaded certificates and reports: checked by content, stored with a checksum, audited."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import func, select

from core.clinical import uploads
from core.documents import store
from core.errors import NotFound, PermissionDenied, ValidationFailed
from db.models import AuditEntry, Document, OutboxMessage
from tests.core.lab_support import patient_in_consultation, set_up_lab

PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 32
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01" + b"\x00" * 32
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 56
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + b"\x00" * 54


@pytest.fixture
def lab(session, clinic_a):
    return set_up_lab(session, clinic_a)


@pytest.fixture
def visit(session, clinic_a, lab):
    token = patient_in_consultation(session, clinic_a, lab)
    return token.patient_id, token.consultation_id


def _documents(session):
    return session.execute(select(func.count()).select_from(Document)).scalar_one()


@pytest.mark.parametrize(
    ("content", "name", "mime", "stored"),
    [
        (PDF, "fitness certificate.pdf", "application/pdf", "fitness certificate.pdf"),
        (PNG, "knee x-ray.png", "image/png", "knee x-ray.png"),
        (JPEG, "scan.pdf", "image/jpeg", "scan.jpg"),  # the bytes decide, not the name
    ],
)
def test_a_doctor_uploads_a_file_for_the_visit_and_it_reads_back(
    session, lab, visit, content, name, mime, stored
):
    patient_id, consultation_id = visit
    doc = uploads.upload_document(
        session,
        lab.doctor,
        patient_id=patient_id,
        consultation_id=consultation_id,
        kind="certificate",
        filename=name,
        content=content,
    )
    assert (doc.mime, doc.filename, doc.consultation_id) == (mime, stored, consultation_id)
    assert doc.sha256 == hashlib.sha256(content).hexdigest()
    got = uploads.download_document(session, lab.tech, doc.id)
    assert (got.content, got.mime, got.filename) == (content, mime, stored)
    actions = session.execute(
        select(AuditEntry.action).where(AuditEntry.entity_id == str(doc.id))
    ).scalars()
    assert {"document.store", "document.upload", "document.download"} <= set(actions)


@pytest.mark.parametrize(
    ("content", "name"),
    [
        (ELF, "report.pdf"),
        (EXE, "certificate.pdf"),
        (b"GIF89a" + b"\x00" * 20, "photo.png"),
        (b"just some text, honestly a pdf", "notes.pdf"),
        (b"", "empty.pdf"),
        (b"%PDF" + b"0" * uploads.MAX_BYTES, "huge.pdf"),
    ],
)
def test_wrong_types_renamed_executables_and_oversized_files_are_refused(
    session, lab, visit, content, name
):
    patient_id, _ = visit
    before = _documents(session)
    with pytest.raises(ValidationFailed) as err:
        uploads.upload_document(
            session,
            lab.doctor,
            patient_id=patient_id,
            kind="report",
            filename=name,
            content=content,
        )
    assert err.value.field == "content"
    assert _documents(session) == before


def test_ten_megabytes_exactly_is_accepted(session, lab, visit):
    big = PDF + b"0" * (uploads.MAX_BYTES - len(PDF))
    doc = uploads.upload_document(
        session, lab.tech, patient_id=visit[0], kind="lab_report", filename="cbc", content=big
    )
    assert (doc.size, doc.filename) == (uploads.MAX_BYTES, "cbc.pdf")


def test_the_front_desk_neither_uploads_nor_opens_clinical_documents(session, lab, visit):
    patient_id, _ = visit
    before = _documents(session)
    with pytest.raises(PermissionDenied):
        uploads.upload_document(
            session, lab.desk, patient_id=patient_id, kind="report", filename="r.pdf", content=PDF
        )
    assert _documents(session) == before
    doc = uploads.upload_document(
        session, lab.doctor, patient_id=patient_id, kind="report", filename="r.pdf", content=PDF
    )
    with pytest.raises(PermissionDenied):
        uploads.download_document(session, lab.desk, doc.id)
    with pytest.raises(PermissionDenied):
        uploads.send_upload(session, lab.desk, document_id=doc.id)
    assert uploads.patient_documents(session, lab.desk, patient_id=patient_id) == []
    assert [
        d.id for d in uploads.patient_documents(session, lab.doctor, patient_id=patient_id)
    ] == [doc.id]


def test_sending_over_whatsapp_queues_one_document_per_request(session, lab, visit):
    doc = uploads.upload_document(
        session, lab.doctor, patient_id=visit[0], kind="certificate", filename="c", content=PDF
    )
    first = uploads.send_upload(session, lab.doctor, document_id=doc.id, request_key="r1")
    again = uploads.send_upload(session, lab.doctor, document_id=doc.id, request_key="r1")
    assert first.id == again.id
    assert (first.kind, first.payload["document_id"]) == (store.DOCUMENT, doc.id)
    rows = session.execute(
        select(func.count()).select_from(OutboxMessage).where(OutboxMessage.kind == store.DOCUMENT)
    ).scalar_one()
    assert rows == 1


def test_another_clinics_staff_get_not_found(session, clinic_b, lab, visit):
    theirs = set_up_lab(session, clinic_b)
    doc = uploads.upload_document(
        session, lab.doctor, patient_id=visit[0], kind="report", filename="r", content=PDF
    )
    before = _documents(session)
    with pytest.raises(NotFound):
        uploads.upload_document(
            session, theirs.doctor, patient_id=visit[0], kind="report", filename="r", content=PDF
        )
    with pytest.raises(NotFound):
        uploads.download_document(session, theirs.doctor, doc.id)
    with pytest.raises(NotFound):
        uploads.send_upload(session, theirs.doctor, document_id=doc.id)
    with pytest.raises(NotFound):
        uploads.patient_documents(session, theirs.doctor, patient_id=visit[0])
    assert _documents(session) == before
