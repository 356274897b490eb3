"""PostgreSQL row-level security: the second wall behind core's tenant scoping."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from db.migrations.guards import tenant_tables
from tests.support import make_clinic

ROLE = "qlink_rls_probe"


@pytest.fixture
def two_clinics(pg_db):
    with pg_db.transaction("*") as s:
        a, b = make_clinic(s), make_clinic(s)
    with pg_db.engine.begin() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": ROLE})
        if exists.first() is None:
            conn.exec_driver_sql(f"CREATE ROLE {ROLE} NOLOGIN")
        conn.exec_driver_sql(
            f"GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA public TO {ROLE}"
        )
        conn.exec_driver_sql(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {ROLE}")
    return pg_db, a, b


def _as_app_role(conn, tenant):
    conn.exec_driver_sql(f"SET LOCAL ROLE {ROLE}")
    conn.execute(text("SELECT set_config('app.tenant_id', :t, true)"), {"t": str(tenant)})


def test_every_tenant_table_has_rls_forced(pg_db):
    with pg_db.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT relname FROM pg_class WHERE relrowsecurity AND relforcerowsecurity")
        ).scalars()
        assert set(tenant_tables()) <= set(rows)


@pytest.mark.parametrize("table", ["branches", "departments", "users", "audit_log"])
def test_tenant_a_never_sees_tenant_b_rows(two_clinics, table):
    database, a, _b = two_clinics
    with database.engine.begin() as conn:
        _as_app_role(conn, a.tenant_id)
        tenants = set(conn.execute(text(f"SELECT DISTINCT tenant_id FROM {table}")).scalars())
    assert tenants == {a.tenant_id}


def test_no_tenant_setting_means_no_rows(two_clinics):
    database, _a, _b = two_clinics
    with database.engine.begin() as conn:
        conn.exec_driver_sql(f"SET LOCAL ROLE {ROLE}")
        assert conn.execute(text("SELECT count(*) FROM branches")).scalar_one() == 0


def test_writing_into_another_tenant_is_refused(two_clinics):
    database, a, b = two_clinics
    with pytest.raises(DBAPIError, match="row-level security"), database.engine.begin() as conn:
        _as_app_role(conn, a.tenant_id)
        conn.execute(
            text(
                "INSERT INTO branches (tenant_id, slug, name, signage_language, active, "
                "created_at) VALUES (:t, 'sneaky', 'Sneaky', 'en', true, now())"
            ),
            {"t": b.tenant_id},
        )


def test_session_scope_sets_the_rls_tenant(two_clinics):
    database, a, _b = two_clinics
    with database.transaction(a.tenant_id, readonly=True) as s:
        s.connection().exec_driver_sql(f"SET LOCAL ROLE {ROLE}")
        tenants = set(s.execute(text("SELECT DISTINCT tenant_id FROM departments")).scalars())
    assert tenants == {a.tenant_id}
