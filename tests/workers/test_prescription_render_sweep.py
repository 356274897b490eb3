"""The relay's render pass through the real ``Relay.sweep``: a finished visit's prescription PDF
job is rendered, stored and sent as a document in one sweep; a job failing with a non-domain
error is retried with backoff, does not stop the sweep's sends, and is closed ``failed`` with
the error after the outbox's attempts; a job whose renders keep dying with the worker is given
up too.

Commits for real on SQLite and PostgreSQL (a clinic of its own per test); the HTTP side is the
loopback fake Graph server.
"""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import select, update

from core.clinical import delivery
from core.clinical.finish import finish_visit
from core.clock import FrozenClock
from core.messaging.outbound import MAX_ATTEMPTS
from db.engine import ALL_TENANTS
from db.models import Document, OutboxMessage, Prescription
from tests.fakes.graph import FakeGraph
from tests.workers.outbound_world import VAULT, build_world
from tests.workers.test_prescription_delivery import knee_visit
from workers.graph import GraphClient
from workers.outbox import Relay


@pytest.fixture
def fake():
    server = FakeGraph().start()
    yield server
    server.stop()


@pytest.fixture
def client(fake):
    with GraphClient(fake.url, "test-token") as graph:
        yield graph


def relay_for(db, client, clock):
    return Relay(db, client.post, VAULT, clock=clock, upload=client.upload_media, name="rx-test")


def park_other_clinics(db, world):
    """The sweep runs over every clinic: other tests' committed rows still due on the shared
    database (finished tests' leftovers) are parked so they cannot take this sweep's batch."""
    with db.transaction(ALL_TENANTS) as session:
        session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.tenant_id != world.clinic.tenant_id,
                OutboxMessage.status.in_(("pending", "sending")),
            )
            .values(status="parked")
        )


def mine(fake, world):
    return [r for r in fake.requests if world.phone_number_id in r.path]


def test_one_sweep_renders_the_prescription_and_sends_it(db, fake, client):
    with db.transaction(ALL_TENANTS) as session:
        world = build_world(session, slug=f"rx-{uuid.uuid4().hex[:8]}")
        dr, cid = knee_visit(session, world)
        done = finish_visit(session, dr, consultation_id=cid)
    park_other_clinics(db, world)
    clock = FrozenClock(world.clock.at + dt.timedelta(seconds=5))
    relay_for(db, client, clock).sweep()
    with db.transaction(ALL_TENANTS, readonly=True) as session:
        job = session.get(OutboxMessage, done.pdf_job_id)
        assert (job.status, job.attempts, job.last_error) == ("sent", 1, None)
        prescription = session.scalars(
            select(Prescription).where(Prescription.consultation_id == cid)
        ).one()
        document = session.get(Document, prescription.document_id)
        assert document.kind == "prescription" and document.content_type == "application/pdf"
    documents = [r for r in mine(fake, world) if r.body.get("type") == "document"]
    assert len(documents) == 1
    assert documents[0].body["document"]["filename"] == document.filename


def test_a_job_failing_with_a_non_domain_error_is_retried_then_failed(db, fake, client):
    with db.transaction(ALL_TENANTS) as session:
        world = build_world(session, slug=f"rx-{uuid.uuid4().hex[:8]}")
        bad = OutboxMessage(  # a corrupt payload: int("x") raises ValueError inside the render
            tenant_id=world.clinic.tenant_id,
            kind=delivery.PRESCRIPTION_PDF,
            payload={"prescription_id": "x"},
            dedupe_key="rx-pdf:corrupt",
            available_at=world.clock.at,
            created_at=world.clock.at,
        )
        session.add(bad)
        session.flush()
        bad_id = bad.id
    park_other_clinics(db, world)
    clock = FrozenClock(world.clock.at + dt.timedelta(seconds=1))
    relay = relay_for(db, client, clock)
    relay.sweep()  # does not raise, and the sweep's sends still go out
    assert [r.body.get("type") for r in mine(fake, world)] == ["text"]  # the now-serving message

    def job():
        with db.transaction(ALL_TENANTS, readonly=True) as session:
            return session.get(OutboxMessage, bad_id)

    first = job()
    assert (first.status, first.attempts, first.claimed_by) == ("pending", 1, None)
    assert first.last_error.startswith("ValueError: invalid literal for int()")
    assert first.available_at > clock.at  # backoff
    relay.sweep()
    assert job().attempts == 1  # not due again yet
    for attempt in range(2, MAX_ATTEMPTS + 1):
        clock.at = job().available_at
        relay.sweep()
        assert job().attempts == attempt
    last = job()
    assert (last.status, last.attempts) == ("failed", MAX_ATTEMPTS)
    assert last.last_error.startswith("ValueError")
    clock.at += dt.timedelta(days=1)
    relay.sweep()
    assert (job().status, job().attempts) == ("failed", MAX_ATTEMPTS)  # never claimed again


def test_a_job_whose_renders_keep_dying_is_given_up(db, fake, client):
    with db.transaction(ALL_TENANTS) as session:
        world = build_world(session, slug=f"rx-{uuid.uuid4().hex[:8]}")
        dr, cid = knee_visit(session, world)
        done = finish_visit(session, dr, consultation_id=cid)
        job = session.get(OutboxMessage, done.pdf_job_id)
        # claimed MAX_ATTEMPTS times by workers that died mid-render (lease long expired)
        job.status, job.claimed_by, job.attempts = "sending", "dead-worker", MAX_ATTEMPTS
        job.claimed_at = world.clock.at - dt.timedelta(hours=1)
    park_other_clinics(db, world)
    clock = FrozenClock(world.clock.at + dt.timedelta(seconds=5))
    relay_for(db, client, clock).sweep()
    with db.transaction(ALL_TENANTS, readonly=True) as session:
        job = session.get(OutboxMessage, done.pdf_job_id)
        assert (job.status, job.attempts) == ("failed", MAX_ATTEMPTS + 1)
        assert job.last_error == f"the render did not finish in {MAX_ATTEMPTS} attempts"
    assert [r for r in mine(fake, world) if r.body.get("type") == "document"] == []
