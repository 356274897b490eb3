"""Reading the audit log and checking its chain; the console's system-health figures.

On both backends: filters by user, patient, action and time; an edited, a removed row each
found with the reason; another clinic's user or patient is NotFound and its chain unseen;
health figures count one clinic's outbox and failed messages, and another clinic sees none.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from sqlalchemy import insert, text
from sqlalchemy.orm import Session

from core.audit import record
from core.audit_views import audit_choices, audit_entries, check_chain
from core.clock import FrozenClock
from core.context import Actor
from core.errors import NotFound, PermissionDenied, ValidationFailed
from core.system_health import database_p95_ms, health_figures, platform_health
from db.models import OutboxMessage, WhatsAppMessage
from tests.support import Clinic, make_patient

NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)


def _at(actor: Actor, minutes: int) -> Actor:
    return dataclasses.replace(actor, clock=FrozenClock(NOW + dt.timedelta(minutes=minutes)))


def _log(session: Session, clinic: Clinic) -> int:
    """Four entries: the admin reads patient P twice, the desk books once, the admin exports."""
    patient = make_patient(session, clinic, "PATA001").id
    admin, desk = clinic.admin, clinic.receptionist
    record(session, _at(admin, 0), "patient.read", entity="patient", entity_id=patient)
    record(session, _at(desk, 5), "appointment.book", entity="appointment", entity_id=7)
    record(session, _at(admin, 10), "patient.read", entity="patient", entity_id=patient)
    record(session, _at(admin, 90), "report.export", entity="report", detail={"kind": "csv"})
    return patient


def _ours(lines: list, actions: set[str]) -> list:
    return [line for line in lines if line.action in actions]


def test_filters_by_user_patient_action_and_time(session, clinic_a, clinic_b):
    patient = _log(session, clinic_a)
    admin = clinic_a.admin
    mine = {"patient.read", "appointment.book", "report.export"}
    every = _ours(audit_entries(session, admin), mine)
    assert [e.action for e in every] == [
        "report.export",
        "patient.read",
        "appointment.book",
        "patient.read",
    ]  # newest first
    by_desk = audit_entries(session, admin, user_id=clinic_a.receptionist.user_id)
    assert [e.action for e in _ours(by_desk, mine)] == ["appointment.book"]
    about = audit_entries(session, admin, patient_id=patient)
    assert [e.action for e in about] == ["patient.read", "patient.read"]
    exports = audit_entries(session, admin, action="report.export")
    assert exports[0].detail == {"kind": "csv"}
    early = audit_entries(session, admin, since=NOW, until=NOW + dt.timedelta(minutes=30))
    assert len(_ours(early, mine)) == 3
    choices = audit_choices(session, admin)
    assert {"patient.read", "report.export"} <= set(choices.actions)
    assert clinic_a.receptionist.user_id in dict(choices.actors)
    # Clinic B's admin sees none of it and cannot name A's patient or user.
    assert _ours(audit_entries(session, clinic_b.admin), mine) == []
    with pytest.raises(NotFound):
        audit_entries(session, clinic_b.admin, patient_id=patient)
    with pytest.raises(NotFound):
        audit_entries(session, clinic_b.admin, user_id=clinic_a.receptionist.user_id)
    with pytest.raises(PermissionDenied):
        audit_entries(session, clinic_a.receptionist)
    with pytest.raises(ValidationFailed):
        audit_entries(session, admin, since=NOW, until=NOW)


def _disable_guards(session: Session) -> None:
    """Let the test edit the append-only log (rolled back with the test's transaction)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
    else:
        session.execute(text("DROP TRIGGER IF EXISTS audit_log_no_update"))
        session.execute(text("DROP TRIGGER IF EXISTS audit_log_no_delete"))


def test_an_edited_row_breaks_the_chain_where_it_was_edited(session, clinic_a, clinic_b):
    _log(session, clinic_a)
    _log(session, clinic_b)
    intact = check_chain(session, clinic_a.admin)
    assert intact.ok and intact.entries >= 4 and intact.last_good_seq == intact.entries
    chain = f"t:{clinic_a.tenant_id}"
    seq = session.execute(
        text("SELECT seq FROM audit_log WHERE chain = :c AND action = 'appointment.book'"),
        {"c": chain},
    ).scalar_one()
    _disable_guards(session)
    session.execute(
        text("UPDATE audit_log SET entity_id = '8' WHERE chain = :c AND seq = :s"),
        {"c": chain, "s": seq},
    )
    session.expire_all()
    broken = check_chain(session, clinic_a.admin)
    assert (broken.ok, broken.broken_seq, broken.last_good_seq) == (False, seq, seq - 1)
    assert broken.reason == "its contents were changed after it was written"
    assert broken.broken_entry is not None and broken.broken_entry.entity_id == "8"
    assert check_chain(session, clinic_b.admin).ok  # the other clinic's chain is its own


def test_a_removed_row_breaks_the_chain_at_the_next(session, clinic_a):
    _log(session, clinic_a)
    chain = f"t:{clinic_a.tenant_id}"
    last = check_chain(session, clinic_a.admin).entries
    _disable_guards(session)
    session.execute(
        text("DELETE FROM audit_log WHERE chain = :c AND seq = :s"), {"c": chain, "s": last - 1}
    )
    session.expire_all()
    broken = check_chain(session, clinic_a.admin)
    assert (broken.ok, broken.broken_seq) == (False, last)
    assert broken.reason == f"entry {last - 1} is missing (numbering jumps to {last})"


def _outbound(session: Session, clinic: Clinic, n: int, status: str, **extra: object) -> None:
    session.execute(
        insert(WhatsAppMessage),
        [
            {
                "tenant_id": clinic.tenant_id,
                "direction": "out",
                "phone_number_id": "1",
                "contact_key": f"91900000{i:04d}",
                "msg_type": "template",
                "template_name": "token_issued",
                "status": status,
                "created_at": NOW - dt.timedelta(hours=1),
                **extra,
            }
            for i in range(n)
        ],
    )


def test_health_counts_one_clinics_backlog_and_failures(session, clinic_a, clinic_b):
    _outbound(session, clinic_a, 8, "delivered")
    _outbound(session, clinic_a, 1, "read")
    _outbound(session, clinic_a, 1, "failed", error_code=131026, error_title="Not on WhatsApp")
    session.execute(
        insert(OutboxMessage),
        [
            {
                "tenant_id": clinic_a.tenant_id,
                "kind": "whatsapp.token_issued",
                "payload": {},
                "status": "pending",
                "available_at": NOW - dt.timedelta(seconds=90),
                "created_at": NOW - dt.timedelta(seconds=90),
            }
        ],
    )
    h = health_figures(session, clinic_a.admin, now=NOW)
    assert (h.messages_sent, h.messages_delivered, h.messages_failed) == (10, 9, 1)
    assert h.delivery_pct == 90.0
    assert (h.outbox_pending, h.worker_lag_seconds) == (1, 90.0)
    assert [(f.what, f.code, f.reason) for f in h.failed] == [
        ("token_issued", 131026, "Not on WhatsApp")
    ]
    assert h.webhook_success_pct is None  # platform-wide: not a clinic admin's figure
    other = health_figures(session, clinic_b.admin, now=NOW)
    assert (other.messages_sent, other.outbox_pending, other.failed) == (0, 0, ())
    everyone = platform_health(session, now=NOW)
    assert everyone.messages_sent >= 10 and everyone.webhooks_done is not None
    assert database_p95_ms(session, clinic_a.admin, probes=5) >= 0
    with pytest.raises(PermissionDenied):
        health_figures(session, clinic_a.receptionist, now=NOW)
