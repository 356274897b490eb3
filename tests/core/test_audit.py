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


def _actions(session, tenant_id):
    return session.scalars(
        select(AuditEntry.action)
        .where(AuditEntry.chain == f"t:{tenant_id}", AuditEntry.action.like("probe.%"))
        .order_by(AuditEntry.seq)
    ).all()


def test_a_rolled_back_savepoint_drops_its_staged_entries(session, clinic_a):
    """Entries are chained at commit; one recorded inside a SAVEPOINT that rolls back is gone."""
    actor = clinic_a.receptionist
    audit.record(session, actor, "probe.kept", entity="patient", entity_id=1)
    with pytest.raises(RuntimeError), session.begin_nested():
        audit.record(session, actor, "probe.dropped", entity="patient", entity_id=2)
        raise RuntimeError
    audit.record(session, actor, "probe.after", entity="patient", entity_id=3)
    assert _actions(session, clinic_a.tenant_id) == ["probe.kept", "probe.after"]
    assert audit.verify_chain(session, clinic_a.tenant_id).ok


def test_entries_read_inside_a_savepoint_that_rolls_back_are_chained_again(session, clinic_a):
    """A read inside a SAVEPOINT chains staged entries there; its rollback must not lose them."""
    actor = clinic_a.receptionist
    audit.record(session, actor, "probe.before", entity="patient", entity_id=1)
    with pytest.raises(RuntimeError), session.begin_nested():
        audit.record(session, actor, "probe.inside", entity="patient", entity_id=2)
        assert _actions(session, clinic_a.tenant_id) == ["probe.before", "probe.inside"]
        raise RuntimeError
    assert _actions(session, clinic_a.tenant_id) == ["probe.before"]
    assert audit.verify_chain(session, clinic_a.tenant_id).ok


def test_entries_are_chained_at_commit_not_when_recorded(db):
    """Until commit nothing is written, so the chain head is not locked meanwhile."""
    from tests.support import make_clinic

    with db.transaction("*") as s:
        clinic = make_clinic(s)
    with db.transaction(clinic.tenant_id) as s:
        audit.record(s, clinic.receptionist, "probe.late", entity="patient", entity_id=5)
        written = s.connection().exec_driver_sql(
            f"SELECT count(*) FROM audit_log WHERE chain = 't:{clinic.tenant_id}' "
            "AND action = 'probe.late'"
        )
        assert written.scalar() == 0  # raw connection read: staged, not yet written
    with db.transaction(clinic.tenant_id, readonly=True) as s:
        assert _actions(s, clinic.tenant_id) == ["probe.late"]
        assert audit.verify_chain(s, clinic.tenant_id).ok
