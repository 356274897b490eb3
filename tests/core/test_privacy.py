"""DPDP: consent history per purpose, erasure keeping what the law requires, the breach log,
and the retention purge's last run as the clinic sees it."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from sqlalchemy import func, select

from core.clock import FrozenClock
from core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from core.messaging.retention import SETTING, purge_batch
from core.patients import consent, registry
from core.patients.consent import ConsentGrant
from core.patients.phones import PhoneVault
from core.privacy import breaches, consents, erasure, retention_log
from core.queue.issuing import issue_token
from db.models import (
    AuditEntry,
    ConversationSession,
    DataRequest,
    Patient,
    QueueToken,
    WhatsAppMessage,
)

NOW = dt.datetime(2026, 12, 7, 6, 0, tzinfo=dt.UTC)
VAULT = PhoneVault("test-key")


def admin(clinic):
    return dataclasses.replace(clinic.admin, clock=FrozenClock(NOW))


def _ravi(session, clinic):
    desk = dataclasses.replace(clinic.receptionist, clock=FrozenClock(NOW))
    return registry.register_patient(
        session,
        desk,
        vault=VAULT,
        full_name="Ravi Kumar",
        phone="98765 43210",
        date_of_birth=dt.date(1980, 5, 1),
        email="ravi@example.in",
        address="12 MG Road",
        wa_bsuid="IN.ravi",
        consents=[ConsentGrant("treatment"), ConsentGrant("whatsapp")],
    ).patient


def _message(session, clinic, patient_id, age_days=1):
    row = WhatsAppMessage(
        tenant_id=clinic.tenant_id,
        direction="in",
        phone_number_id="1055",
        contact_key="919876543210",
        patient_id=patient_id,
        msg_type="text",
        body={"text": {"body": "my knee hurts"}},
        status="received",
        created_at=NOW - dt.timedelta(days=age_days),
    )
    session.add(row)
    session.flush()
    return row


def test_consent_history_keeps_every_decision_in_order(session, clinic_a):
    ravi = _ravi(session, clinic_a)
    consent.record_consent(
        session, clinic_a.admin, ravi.id, grant=ConsentGrant("whatsapp", granted=False)
    )
    history = consents.consent_history(session, clinic_a.admin, patient_id=ravi.id)
    assert [(h.purpose, h.granted) for h in history] == [
        ("treatment", True),
        ("whatsapp", True),
        ("whatsapp", False),
    ]
    with pytest.raises(NotFound):
        consents.consent_history(session, clinic_a.lab, patient_id=ravi.id + 10_000)


def test_erasure_clears_contact_data_and_conversations_keeps_records(session, clinic_a):
    ravi = _ravi(session, clinic_a)
    token = issue_token(
        session,
        dataclasses.replace(clinic_a.receptionist, clock=FrozenClock(NOW)),
        patient_id=ravi.id,
        department_id=clinic_a.department.id,
        kind="walk_in",
    )
    msg = _message(session, clinic_a, ravi.id)
    session.add(
        ConversationSession(
            tenant_id=clinic_a.tenant_id, contact_key="919876543210", patient_id=ravi.id
        )
    )
    session.flush()
    receipt = erasure.erase_patient(
        session, admin(clinic_a), patient_id=ravi.id, note="Asked at the desk"
    )
    session.expire_all()
    gone = session.get(Patient, ravi.id)
    assert gone.full_name == f"Erased {gone.code}" and gone.erased_at == NOW
    assert (gone.phone_cipher, gone.phone_hash, gone.wa_bsuid, gone.email, gone.address) == (
        None,
        None,
        None,
        None,
        None,
    )
    assert gone.date_of_birth is None and gone.age_years == 46
    message = session.get(WhatsAppMessage, msg.id)
    assert message.body is None and message.contact_key == f"erased:{gone.code}"
    assert message.direction == "in"  # counts stay
    sessions = select(func.count()).where(ConversationSession.tenant_id == clinic_a.tenant_id)
    assert session.scalar(sessions) == 0
    assert session.get(QueueToken, token.id) is not None  # the visit's record is kept
    assert (receipt.messages_cleared, receipt.sessions_removed) == (1, 1)
    request = session.get(DataRequest, receipt.request_id)
    assert (request.kind, request.status) == ("erasure", "completed")
    history = consents.consent_history(session, clinic_a.admin, patient_id=ravi.id)
    assert [(h.purpose, h.granted) for h in history][-3:] == [
        ("whatsapp", False),
        ("reminders", False),
        ("research", False),
    ]
    with pytest.raises(NotFound):  # erased: no longer a live patient
        erasure.erase_patient(session, admin(clinic_a), patient_id=ravi.id)


def test_only_the_clinic_admin_erases_and_an_outsider_gets_not_found(session, clinic_a, clinic_b):
    ravi = _ravi(session, clinic_a)
    with pytest.raises(PermissionDenied):
        erasure.erase_patient(session, clinic_a.receptionist, patient_id=ravi.id)
    with pytest.raises(NotFound):
        erasure.erase_patient(session, clinic_b.admin, patient_id=ravi.id)
    assert session.get(Patient, ravi.id).erased_at is None


def test_breach_log_records_lists_and_notifies_once(session, clinic_a, clinic_b):
    at = admin(clinic_a)
    row = breaches.record_breach(
        session,
        at,
        detected_at=NOW - dt.timedelta(hours=3),
        description="Printed day list left at the bus stop",
        affected_count=45,
    )
    assert [b.id for b in breaches.list_breaches(session, at)] == [row.id]
    assert breaches.mark_notified(session, at, breach_id=row.id).notified_at == NOW
    with pytest.raises(Conflict):
        breaches.mark_notified(session, at, breach_id=row.id)
    with pytest.raises(ValidationFailed):
        breaches.record_breach(
            session,
            at,
            detected_at=NOW + dt.timedelta(days=1),
            description="x" * 20,
            affected_count=1,
        )
    with pytest.raises(PermissionDenied):
        breaches.list_breaches(session, clinic_a.receptionist)
    assert breaches.list_breaches(session, clinic_b.admin) == []
    actions = set(
        session.scalars(select(AuditEntry.action).where(AuditEntry.tenant_id == clinic_a.tenant_id))
    )
    assert {"breach.record", "breach.notified"} <= actions


def test_retention_purge_leaves_its_run_for_the_clinic(session, clinic_a, clinic_b):
    session.get(type(clinic_a.tenant), clinic_a.tenant_id).settings = {SETTING: 7}
    (pid,) = [_ravi(session, clinic_a).id]
    for age in (10, 20, 2):
        _message(session, clinic_a, pid, age_days=age)
    assert retention_log.retention_report(session, clinic_a.admin).last_run is None
    while purge_batch(session, now=NOW, limit=1):
        pass
    report = retention_log.retention_report(session, clinic_a.admin)
    assert report.days == 7
    assert report.last_run is not None and report.last_run.messages_removed == 2
    assert report.last_run.day == NOW.date()
    assert retention_log.retention_report(session, clinic_b.admin).last_run is None
