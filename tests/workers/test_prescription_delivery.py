"""Seed 001 workflow 2, the knee-pain consultation: from the call to the prescription on WhatsApp.

Core commands in the rolled-back transaction (SQLite and PostgreSQL); after finish_visit the
relay's render pass builds the PDF, stores it and sends it through the fake Graph server.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from sqlalchemy import func, select, update

from core.clinical import delivery, records
from core.clinical.consultations import open_consultation
from core.clinical.finish import finish_visit
from core.clinical.medicines import MedicineLine
from core.clinical.prescription_pdf import prescription_document, render_prescription
from core.clinical.prescriptions import save_prescription, suggest_follow_up
from core.clinical.views import consultation_record
from core.documents.store import document_content
from db.models import Bill, Doctor, Document, OutboxMessage, Patient, QueueToken
from tests.clinical_support import doctor_actor
from tests.core.test_billing_pdfs import HINDI, TAMIL, _unshaped, pdf_text, squash, unmapped_glyphs
from tests.fakes.graph import FakeGraph
from tests.workers.outbound_world import build_world
from tests.workers.test_document_messages import relay_documents
from workers.graph import GraphClient

KNEE = [
    MedicineLine("Ibuprofen", "1-0-1", strength="400mg", timing="after_food", duration_days=7),
    MedicineLine("Calcium", "1-0-0", strength="500mg", timing="after_food", duration_days=30),
]


@pytest.fixture
def fake():
    server = FakeGraph().start()
    yield server
    server.stop()


@pytest.fixture
def client(fake):
    with GraphClient(fake.url, "test-token") as graph:
        yield graph


def knee_visit(session, world):
    token = session.get(QueueToken, world.token_id)
    dr = doctor_actor(session, world.clinic, session.get(Doctor, token.doctor_id), world.clock.at)
    consultation = open_consultation(session, dr, token_id=token.id)
    cid = consultation.id
    records.record_notes(session, dr, consultation_id=cid, chief_complaint="Knee pain for 2 weeks")
    records.add_diagnosis(
        session, dr, consultation_id=cid, description="Osteoarthritis", icd10_code="M17.9"
    )
    save_prescription(
        session, dr, consultation_id=cid, lines=KNEE, advice="Apply hot compress twice daily"
    )
    follow = suggest_follow_up(KNEE, world.clock.at.date())
    records.record_notes(session, dr, consultation_id=cid, follow_up_date=follow)
    return dr, cid


def park_other_clinics_renders(session, world):
    """Other tests' committed render jobs on the shared database stay out of this claim
    (the test's transaction is rolled back)."""
    session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.kind == delivery.PRESCRIPTION_PDF,
            OutboxMessage.tenant_id != world.clinic.tenant_id,
            OutboxMessage.status.in_(("pending", "sending")),
        )
        .values(status="parked")
    )


def test_knee_pain_visit_ends_with_the_prescription_pdf_on_whatsapp(session, fake, client):
    world = build_world(session)
    dr, cid = knee_visit(session, world)
    done = finish_visit(session, dr, consultation_id=cid)
    assert finish_visit(session, dr, consultation_id=cid) == done  # idempotent
    bill = session.get(Bill, done.bill_id)
    assert (bill.total_minor, bill.status) == (50000, "pending")  # ₹500 for the desk
    assert session.get(QueueToken, world.token_id).status == "done"
    record = consultation_record(session, dr, consultation_id=cid)
    assert record.status == "final" and record.prescription.issued_at is not None
    job = session.get(OutboxMessage, done.pdf_job_id)
    assert (job.kind, job.status) == (delivery.PRESCRIPTION_PDF, "pending")
    documents = select(func.count()).where(Document.tenant_id == world.clinic.tenant_id)
    assert session.scalar(documents) == 0  # not inside finish

    now = world.clock.at
    park_other_clinics_renders(session, world)
    (claimed,) = delivery.claim_render_jobs(session, worker="w1", now=now)
    document_id = delivery.render_job(session, claimed, now=now)
    assert delivery.render_job(session, claimed, now=now) is None  # a duplicate does nothing
    relay_documents(session, client, now=now, tenant_id=world.clinic.tenant_id)
    (upload,) = fake.uploads
    assert upload.filename == f"Prescription-{done.prescription_id}.pdf"
    (sent,) = [r for r in fake.requests if r.body.get("type") == "document"]
    assert sent.body["type"] == "document"
    assert sent.body["document"]["id"] == upload.media_id
    assert "your prescription" in sent.body["document"]["caption"]
    text = pdf_text(upload.content)
    for words in (
        "Prescription",
        "Meera Nair",
        "Dr. Asha Rao",
        "Knee pain for 2 weeks",
        "Osteoarthritis (M17.9)",
        "Ibuprofen 400mg",
        "1-0-1",
        "After food",
        "Calcium 500mg",
        "Apply hot compress twice daily",
        "Follow-up",
        "Signature",
    ):
        assert squash(words) in text, words
    assert document_content(session, dr, document_id) == upload.content


def test_prescription_pdf_shapes_devanagari_and_tamil_names(session):
    world = build_world(session)
    session.execute(
        update(Patient).where(Patient.id == world.patient_id).values(full_name=f"{HINDI} {TAMIL}")
    )
    dr, cid = knee_visit(session, world)
    done = finish_visit(session, dr, consultation_id=cid)
    pdf = render_prescription(
        prescription_document(session, dr, prescription_id=done.prescription_id)
    )
    shaped = unmapped_glyphs(pdf)
    baseline = unmapped_glyphs(_unshaped(f"{HINDI} {TAMIL}"))
    deva = next(k for k in shaped if "Devanagari" in k)
    taml = next(k for k in shaped if "Tamil" in k)
    assert shaped[deva] > baseline.get(deva, 0)
    assert shaped[taml] > baseline.get(taml, 0)


def test_follow_up_is_suggested_when_the_first_course_runs_out():
    assert suggest_follow_up(KNEE, dt.date(2026, 12, 8)) == dt.date(2026, 12, 15)
    assert (
        suggest_follow_up([dataclasses.replace(KNEE[0], duration_days=None)], dt.date(2026, 1, 1))
        is None
    )
