"""Uploaded certificates and reports: checked by content, stored with a checksum, audited.

A file's type is read from its first bytes (``filetype``), never from its name or the type a
browser claims: only PDF, JPEG and PNG are kept, at most ``MAX_BYTES``; an executable renamed
``report.pdf`` is refused. The stored name takes the extension of the type found. Clinical
documents (certificates, reports, prescriptions, summaries) are read and downloaded only with
``clinical.read`` or ``lab.read``; every download is audited; sending one over WhatsApp is an
outbox intent (``send_document``).
"""

from __future__ import annotations

from dataclasses import dataclass

import filetype
from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit
from core.auth.permissions import can
from core.context import Actor, tenant_of
from core.documents import store
from core.errors import PermissionDenied, ValidationFailed
from core.patients.views import load_patient
from db.models import Document, OutboxMessage

UPLOAD_KINDS = ("certificate", "report", "lab_report")
CLINICAL_KINDS = frozenset({"certificate", "report", "lab_report", "prescription", "summary"})
TYPES = {"application/pdf": "pdf", "image/jpeg": "jpg", "image/png": "png"}
MAX_BYTES = store.MAX_BYTES
UPLOADERS = ("clinical.write", "lab.result")  # doctors and lab technicians
READERS = ("clinical.read", "lab.read")


@dataclass(frozen=True)
class DocumentFile:
    """A downloaded document: its name, type and bytes."""

    document_id: int
    filename: str
    mime: str
    content: bytes


@dataclass(frozen=True)
class DocumentEntry:
    """A patient's document as a list shows it (no content)."""

    id: int
    kind: str
    filename: str
    mime: str
    size: int
    sha256: str
    consultation_id: int | None
    created_at: object


def upload_document(
    session: Session,
    actor: Actor,
    *,
    patient_id: int,
    kind: str,
    filename: str,
    content: bytes,
    consultation_id: int | None = None,
) -> Document:
    """Store an uploaded certificate or report of a patient (and visit) after checking its bytes.

    Raises ``ValidationFailed`` for another kind, an empty or oversized file, or content that
    is not a PDF, JPEG or PNG whatever its name; ``NotFound`` for another clinic's patient.
    """
    if not any(can(actor, p) for p in UPLOADERS):
        raise PermissionDenied(f"Your role ({actor.role}) may not upload clinical documents")
    if kind not in UPLOAD_KINDS:
        raise ValidationFailed(f"Upload a {', '.join(UPLOAD_KINDS)}", field="kind")
    data = _checked_bytes(content)
    mime = detect_type(data)
    document = store.save_document(
        session,
        actor,
        patient_id=patient_id,
        kind=kind,
        filename=_renamed(filename, TYPES[mime]),
        content=data,
        mime=mime,
        consultation_id=consultation_id,
    )
    audit.record(session, actor, "document.upload", entity="document", entity_id=document.id)
    return document


def detect_type(data: bytes) -> str:
    """Return the MIME type of ``data`` from its magic bytes if it is one we keep."""
    found = filetype.guess(data)
    mime = found.mime if found is not None else None
    if mime not in TYPES:
        seen = f" (it looks like {mime})" if mime else ""
        raise ValidationFailed(
            f"Only PDF, JPEG or PNG files can be uploaded{seen}", field="content"
        )
    return str(mime)


def download_document(session: Session, actor: Actor, document_id: int) -> DocumentFile:
    """Return a document's bytes for the actor; audited. Clinical kinds need clinical access."""
    document = store.access_document(session, actor, document_id)
    _require_reader(actor, document.kind)
    data = store.document_content(session, actor, document.id)
    audit.record(session, actor, "document.download", entity="document", entity_id=document.id)
    return DocumentFile(document.id, document.filename, document.content_type, data)


def patient_documents(session: Session, actor: Actor, *, patient_id: int) -> list[DocumentEntry]:
    """A patient's documents, newest first; clinical kinds only for clinical readers."""
    if not can(actor, "patient.read"):
        raise PermissionDenied(f"Your role ({actor.role}) may not read patients' documents")
    patient = load_patient(session, tenant_of(session, actor), patient_id)
    clinical = any(can(actor, p) for p in READERS)
    rows = session.execute(
        select(Document)
        .where(
            Document.tenant_id == patient.tenant_id,
            Document.patient_id == patient.id,
            Document.retracted.is_(False),
        )
        .order_by(Document.created_at.desc(), Document.id.desc())
    ).scalars()
    return [
        DocumentEntry(
            d.id,
            d.kind,
            d.filename,
            d.content_type,
            d.size_bytes,
            d.sha256,
            d.consultation_id,
            d.created_at,
        )
        for d in rows
        if clinical or d.kind not in CLINICAL_KINDS
    ]


def send_upload(
    session: Session, actor: Actor, *, document_id: int, request_key: str | None = None
) -> OutboxMessage:
    """Queue a document for the patient over WhatsApp; ``request_key`` makes a retry a no-op."""
    document = store.access_document(session, actor, document_id)
    _require_reader(actor, document.kind)
    key = f"upload:{document.id}:{request_key}" if request_key else None
    return store.send_document(session, actor, document_id=document.id, dedupe_key=key)


def _require_reader(actor: Actor, kind: str) -> None:
    if kind in CLINICAL_KINDS and not any(can(actor, p) for p in READERS):
        raise PermissionDenied(f"Your role ({actor.role}) may not open clinical documents")


def _checked_bytes(content: bytes) -> bytes:
    if not isinstance(content, bytes | bytearray | memoryview):
        raise ValidationFailed("The upload must be bytes", field="content")
    data = bytes(content)
    if not data:
        raise ValidationFailed("The file is empty", field="content")
    if len(data) > MAX_BYTES:
        mb = MAX_BYTES // (1024 * 1024)
        raise ValidationFailed(f"The file is larger than {mb} MB", field="content")
    return data


def _renamed(filename: str, extension: str) -> str:
    stem = (filename or "").strip().rsplit(".", 1)[0].strip() or "document"
    return f"{stem[:190]}.{extension}"
