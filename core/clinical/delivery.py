"""After the visit commits: render the prescription PDF, store it, send it over WhatsApp.

``finish_visit`` writes one ``clinical.prescription_pdf`` outbox row in its transaction; the
worker's relay runs ``render_due`` in a later transaction of its own, so the slow PDF never
holds the visit's locks. A job is claimed by compare-and-set (``pending → sending``) and is
idempotent: the document and its WhatsApp intent are deduplicated per prescription, so a
job run twice (a crash after commit) stores and sends once.

A job failing with anything but a domain error (a bad payload, a font or disk error, a worker
killed mid-render) is retried with the outbox's backoff, at most ``MAX_ATTEMPTS`` claims in
all, then closed ``failed`` with the error (``render_failed``; the relay records it in a
transaction of its own after the render's is rolled back).
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any, cast

from sqlalchemy import CursorResult, and_, or_, select, update
from sqlalchemy.orm import Session

from core.clinical.prescription_pdf import prescription_document, render_prescription
from core.clock import FrozenClock
from core.context import Actor
from core.documents.store import save_document, send_document
from core.errors import DomainError
from core.messaging.outbound import MAX_ATTEMPTS, backoff
from db.models import OutboxMessage, Prescription

PRESCRIPTION_PDF = "clinical.prescription_pdf"
BATCH = 10
LEASE = dt.timedelta(seconds=60)


def queue_prescription_pdf(
    session: Session, actor: Actor, *, prescription_id: int, tenant_id: int
) -> OutboxMessage:
    """Write the render-and-send job for an issued prescription (once per prescription)."""
    key = f"rx-pdf:{prescription_id}"
    found = session.scalar(
        select(OutboxMessage).where(
            OutboxMessage.tenant_id == tenant_id, OutboxMessage.dedupe_key == key
        )
    )
    if found is not None:
        return found
    now = actor.clock()
    row = OutboxMessage(
        tenant_id=tenant_id,
        kind=PRESCRIPTION_PDF,
        payload={"prescription_id": prescription_id},
        dedupe_key=key,
        available_at=now,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row


def claim_render_jobs(session: Session, *, worker: str, now: dt.datetime) -> list[int]:
    """Claim due render jobs of every clinic for ``worker``; return their outbox ids."""
    due = or_(
        and_(OutboxMessage.status == "pending", OutboxMessage.available_at <= now),
        # a worker died mid-render: take it over after the lease
        and_(OutboxMessage.status == "sending", OutboxMessage.claimed_at < now - LEASE),
    )
    ids = session.scalars(
        select(OutboxMessage.id)
        .where(OutboxMessage.kind == PRESCRIPTION_PDF, due)
        .order_by(OutboxMessage.id)
        .limit(BATCH)
    ).all()
    claimed = []
    for outbox_id in ids:
        result = session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == outbox_id, due)
            .values(
                status="sending",
                claimed_by=worker[:80],
                claimed_at=now,
                attempts=OutboxMessage.attempts + 1,
            )
            .execution_options(synchronize_session=False)
        )
        if cast(CursorResult[Any], result).rowcount == 1:
            claimed.append(outbox_id)
    return claimed


def render_job(session: Session, outbox_id: int, *, now: dt.datetime) -> int | None:
    """Run one claimed job: render, store and queue the PDF; return the document id.

    A job that fails with a domain error (the prescription was withdrawn, the patient erased)
    is closed as ``failed`` with the message; other errors propagate (the caller rolls back
    and calls ``render_failed``). A job claimed more than ``MAX_ATTEMPTS`` times (its renders
    kept dying with the worker) is closed as ``failed`` without another try.
    """
    row = session.get(OutboxMessage, outbox_id, populate_existing=True, with_for_update=True)
    if row is None or row.kind != PRESCRIPTION_PDF or row.status != "sending":
        return None
    if row.attempts > MAX_ATTEMPTS:
        error = f"the render did not finish in {MAX_ATTEMPTS} attempts"
        if row.last_error:
            error += f"; last error: {row.last_error}"
        row.status, row.claimed_by, row.last_error = "failed", None, error
        return None
    actor = Actor.system(row.tenant_id, clock=FrozenClock(now))
    try:
        document_id = deliver_prescription(
            session, actor, prescription_id=int(row.payload["prescription_id"])
        )
    except DomainError as exc:
        row.status, row.claimed_by, row.last_error = "failed", None, exc.message
        return None
    row.status, row.claimed_by, row.sent_at = "sent", None, now
    return document_id


def render_failed(
    session: Session,
    outbox_id: int,
    *,
    worker: str,
    error: str,
    now: dt.datetime,
    rng: random.Random | None = None,
) -> str | None:
    """Record a claimed job whose render raised ``error``: back to ``pending`` after the
    outbox's backoff, or ``failed`` with the error once it used ``MAX_ATTEMPTS``. Returns the
    job's new status (None when the job is no longer this worker's).

    Locks: the job's row (``FOR UPDATE``) until the caller commits.
    """
    row = session.get(OutboxMessage, outbox_id, populate_existing=True, with_for_update=True)
    if row is None or row.kind != PRESCRIPTION_PDF or row.status != "sending":
        return None
    if row.claimed_by != worker[:80]:
        return None
    row.last_error = error[:2000]
    row.claimed_by, row.claimed_at = None, None
    if row.attempts >= MAX_ATTEMPTS:
        row.status = "failed"
    else:
        row.status = "pending"
        row.available_at = now + backoff(row.attempts, rng)
    return row.status


def deliver_prescription(session: Session, actor: Actor, *, prescription_id: int) -> int:
    """Store the prescription's PDF with the patient's documents and queue it for WhatsApp."""
    doc = prescription_document(session, actor, prescription_id=prescription_id)
    prescription = session.get(Prescription, prescription_id)
    assert prescription is not None
    document_id = prescription.document_id
    if document_id is None:
        document = save_document(
            session,
            actor,
            patient_id=prescription.patient_id,
            kind="prescription",
            filename=f"Prescription-{prescription.id}.pdf",
            content=render_prescription(doc),
            consultation_id=prescription.consultation_id,
        )
        prescription.document_id = document_id = document.id
        session.flush()
    caption = f"{doc.heading.clinic}: your prescription from {doc.doctor}, {doc.date}."
    send_document(
        session,
        actor,
        document_id=document_id,
        caption=caption,
        dedupe_key=f"prescription:{prescription.id}",
    )
    return document_id
