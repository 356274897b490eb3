"""Store a generated document's bytes, read it back for an actor, and send it over WhatsApp.

The bytes of a document QLink renders itself (a receipt, a bill, a prescription, a token slip, a
lab report) live in ``document_contents``; ``documents`` describes it (kind, filename, type,
size, SHA-256). ``send_document`` writes a ``whatsapp.document`` intent to the outbox: core never
sends. After commit the relay uploads the bytes to Meta's media endpoint and sends a document
message (``core.messaging.relay``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit
from core.auth.permissions import can, require
from core.context import Actor, tenant_of
from core.errors import NotFound, PermissionDenied, ValidationFailed
from core.messaging.messages import DOCUMENT
from core.patients.views import load_patient
from db.models import Consultation, Document, OutboxMessage
from db.models.clinical import DocumentContent

KINDS = frozenset(
    {"receipt", "bill", "prescription", "slip", "lab_report", "report", "certificate", "summary"}
)
MIMES = frozenset({"application/pdf", "image/jpeg", "image/png"})
MAX_BYTES = 10 * 1024 * 1024  # 10 MB; Meta accepts documents up to 100 MB
MAX_CAPTION = 1024
MAX_FILENAME = 200
STORAGE_PREFIX = "db:"
WRITERS = ("patient.write", "lab.result")  # desk and doctors, and the lab for its reports


def save_document(
    session: Session,
    actor: Actor,
    *,
    patient_id: int,
    kind: str,
    filename: str,
    content: bytes,
    mime: str = "application/pdf",
    consultation_id: int | None = None,
) -> Document:
    """Store ``content`` as a document of the actor's clinic's patient; return the new row.

    Raises ``ValidationFailed`` for an empty or oversized file, an unknown kind or type, or a
    bad filename, and ``NotFound`` for a patient of another clinic. Audited (no content).
    """
    if not any(can(actor, p) for p in WRITERS):
        raise PermissionDenied(f"Your role ({actor.role}) may not store documents")
    tenant_id = tenant_of(session, actor)
    if kind not in KINDS:
        raise ValidationFailed(f"Unknown document kind {kind!r}", field="kind")
    if mime not in MIMES:
        raise ValidationFailed(f"Documents of type {mime!r} are not stored", field="mime")
    if not isinstance(content, bytes | bytearray | memoryview):
        raise ValidationFailed("Document content must be bytes", field="content")
    data = bytes(content)
    if not data:
        raise ValidationFailed("The document is empty", field="content")
    if len(data) > MAX_BYTES:
        raise ValidationFailed(
            f"The document is {len(data)} bytes; at most {MAX_BYTES} are stored", field="content"
        )
    name = _clean_filename(filename)
    patient = load_patient(session, tenant_id, patient_id)
    if (
        consultation_id is not None
        and not session.execute(
            select(Consultation.id).where(
                Consultation.tenant_id == tenant_id,
                Consultation.id == consultation_id,
                Consultation.patient_id == patient.id,
            )
        ).first()
    ):
        raise NotFound("Consultation not found")
    document = Document(
        tenant_id=tenant_id,
        patient_id=patient.id,
        consultation_id=consultation_id,
        kind=kind,
        filename=name,
        content_type=mime,
        size_bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        storage_key=f"{STORAGE_PREFIX}{uuid.uuid4().hex}",
        uploaded_by=actor.user_id,
        created_at=actor.clock(),
    )
    session.add(document)
    session.flush()
    session.add(
        DocumentContent(
            tenant_id=tenant_id, document_id=document.id, content=data, created_at=actor.clock()
        )
    )
    session.flush()
    audit.record(
        session,
        actor,
        "document.store",
        entity="document",
        entity_id=document.id,
        detail={"kind": kind, "size": len(data)},
    )
    return document


def access_document(session: Session, actor: Actor, document_id: int) -> Document:
    """Load a document of the actor's clinic, or raise ``NotFound`` (also for other clinics)."""
    require(actor, "patient.read")
    tenant_id = tenant_of(session, actor)
    document = session.execute(
        select(Document).where(Document.tenant_id == tenant_id, Document.id == document_id)
    ).scalar()
    if document is None or document.retracted:
        raise NotFound("Document not found")
    return document


__all__ = ["DOCUMENT", "access_document", "document_content", "save_document", "send_document"]


def document_content(session: Session, actor: Actor, document_id: int) -> bytes:
    """Return the stored bytes of a document of the actor's clinic (``NotFound`` otherwise)."""
    document = access_document(session, actor, document_id)
    data = stored_bytes(session, document.tenant_id, document.id)
    if data is None:
        raise NotFound("Document content not found")
    return data


def stored_bytes(session: Session, tenant_id: int, document_id: int) -> bytes | None:
    """The bytes of a stored document for a caller that checked the tenant (the relay)."""
    return session.execute(
        select(DocumentContent.content).where(
            DocumentContent.tenant_id == tenant_id, DocumentContent.document_id == document_id
        )
    ).scalar()


def send_document(
    session: Session,
    actor: Actor,
    *,
    document_id: int,
    caption: str | None = None,
    dedupe_key: str | None = None,
) -> OutboxMessage:
    """Queue a stored document for its patient over WhatsApp; return the outbox row.

    ``dedupe_key`` (e.g. ``"receipt:<payment id>"``) makes a repeated call a no-op that returns
    the first row, so a double click does not send the file twice.
    """
    document = access_document(session, actor, document_id)
    if caption is not None and len(caption) > MAX_CAPTION:
        raise ValidationFailed(f"A caption has at most {MAX_CAPTION} characters", field="caption")
    key = f"document:{dedupe_key}" if dedupe_key else None
    if key is not None:
        found = session.execute(
            select(OutboxMessage).where(
                OutboxMessage.tenant_id == document.tenant_id, OutboxMessage.dedupe_key == key
            )
        ).scalar()
        if found is not None:
            return found
    now: dt.datetime = actor.clock()
    row = OutboxMessage(
        tenant_id=document.tenant_id,
        kind=DOCUMENT,
        payload={
            "document_id": document.id,
            "patient_id": document.patient_id,
            "caption": caption or None,
        },
        dedupe_key=key,
        available_at=now,
        created_at=now,
    )
    session.add(row)
    session.flush()
    audit.record(
        session, actor, "document.send", entity="document", entity_id=document.id, detail=None
    )
    return row


def _clean_filename(filename: str) -> str:
    name = (filename or "").strip()
    if not name or len(name) > MAX_FILENAME or any(c in name for c in "/\\\x00\r\n"):
        raise ValidationFailed(
            f"A filename is 1 to {MAX_FILENAME} characters without slashes", field="filename"
        )
    return name
