from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from core import audit
from db.models import AuditEntry


def test_entries_chain_and_verify(session, clinic_a):
    before = audit.verify_chain(session, clinic_a.tenant_id).entries
    audit.record(session, clinic_a.receptionist, "patient.read", entity="patient", entity_id=7)
    report = audit.verify_chain(session, clinic_a.tenant_id)
    assert report.ok and report.entries == before + 1


def test_chains_are_per_tenant(session, clinic_a, clinic_b):
    audit.record(session, clinic_b.admin, "patient.read", entity="patient", entity_id=1)
    tenants = set(
        session.scalars(
            select(AuditEntry.tenant_id).where(AuditEntry.chain == f"t:{clinic_a.tenant_id}")
        )
    )
    assert tenants == {clinic_a.tenant_id}


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET action = 'x' WHERE tenant_id = :t",
        "DELETE FROM audit_log WHERE tenant_id = :t",
    ],
)
def test_audit_log_rejects_update_and_delete(session, clinic_a, statement):
    with pytest.raises(DBAPIError, match="append-only"), session.begin_nested():
        session.execute(text(statement), {"t": clinic_a.tenant_id})


def test_tampering_is_detected(db):
    """Bypass the trigger (as a rogue DBA would) and check the chain notices."""
    from tests.support import make_clinic

    with db.transaction("*") as s:
        clinic = make_clinic(s)
        audit.record(s, clinic.admin, "patient.read", entity="patient", entity_id=3)
    tid = clinic.tenant_id
    with db.engine.begin() as conn:
        if db.dialect == "postgresql":
            conn.exec_driver_sql("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
        else:
            conn.exec_driver_sql("DROP TRIGGER audit_log_no_update")
        conn.execute(
            text(
                "UPDATE audit_log SET entity_id = '4' WHERE tenant_id = :t "
                "AND action = 'patient.read'"
            ),
            {"t": tid},
        )
        if db.dialect == "postgresql":
            conn.exec_driver_sql("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only")
        else:
            from db.migrations.guards import install_guards

            install_guards(conn)
    with db.transaction("*", readonly=True) as s:
        report = audit.verify_chain(s, tid)
    assert not report.ok and report.first_bad_seq is not None
