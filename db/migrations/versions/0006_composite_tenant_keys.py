"""Composite tenant keys: the wall between clinics in the schema itself.

Every tenant-owned table gets ``UNIQUE (tenant_id, id)``; every reference to a tenant-owned row
becomes ``(tenant_id, x_id) -> (tenant_id, id)``, so the database refuses a row of one clinic
that points at another clinic's patient, doctor or branch. ``id`` stays the primary key (SQLite
cannot auto-number a composite one). Platform users link to no clinic's doctor or branch (a
composite key does not check a row whose tenant_id is NULL).

PostgreSQL: plain ALTERs; RLS policies and triggers are untouched. SQLite: each table is rebuilt
by batch mode (``db.migrate.upgrade`` turns foreign keys off around the migration and runs
``PRAGMA foreign_key_check`` before committing); rebuilding drops a table's triggers, so the
append-only triggers are created again. Rows already pointing across clinics stop the upgrade
with their count, before anything changes. The lists below are frozen at this revision.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from alembic import op
from sqlalchemy.engine import Connection

from db.migrations.guards import install_guards

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# Parents before children, so PostgreSQL finds (tenant_id, id) unique before a key points at it.
TENANT_TABLES = (
    "audit_log",
    "branches",
    "breach_log",
    "lab_tests",
    "message_templates",
    "outbox",
    "patients",
    "queue_events",
    "sequences",
    "usage_metrics",
    "announcements",
    "consents",
    "conversation_sessions",
    "data_requests",
    "departments",
    "patient_allergies",
    "patient_conditions",
    "patient_medications",
    "subscriptions",
    "whatsapp_messages",
    "doctors",
    "token_counters",
    "appointments",
    "doctor_branches",
    "doctor_leaves",
    "doctor_schedules",
    "doctor_sessions",
    "prescription_favourites",
    "schedule_overrides",
    "users",
    "booking_requests",
    "queue_tokens",
    "schedule_breaks",
    "user_sessions",
    "waitlist_entries",
    "consultations",
    "ratings",
    "bills",
    "consultation_notes",
    "diagnoses",
    "documents",
    "lab_orders",
    "vitals",
    "bill_items",
    "lab_results",
    "payments",
    "prescriptions",
    "prescription_items",
)
REFERENCES = (
    ("patients", "guardian_patient_id", "patients", None),
    ("announcements", "branch_id", "branches", None),
    ("consents", "given_by_guardian_id", "patients", None),
    ("consents", "patient_id", "patients", None),
    ("conversation_sessions", "patient_id", "patients", None),
    ("data_requests", "patient_id", "patients", None),
    ("departments", "branch_id", "branches", None),
    ("patient_allergies", "patient_id", "patients", None),
    ("patient_conditions", "patient_id", "patients", None),
    ("patient_medications", "patient_id", "patients", None),
    ("whatsapp_messages", "patient_id", "patients", None),
    ("whatsapp_numbers", "branch_id", "branches", None),
    ("doctors", "department_id", "departments", None),
    ("token_counters", "department_id", "departments", None),
    ("appointments", "branch_id", "branches", None),
    ("appointments", "department_id", "departments", None),
    ("appointments", "doctor_id", "doctors", None),
    ("appointments", "patient_id", "patients", None),
    ("appointments", "rescheduled_from_id", "appointments", None),
    ("doctor_branches", "branch_id", "branches", None),
    ("doctor_branches", "doctor_id", "doctors", None),
    ("doctor_leaves", "doctor_id", "doctors", None),
    ("doctor_schedules", "branch_id", "branches", None),
    ("doctor_schedules", "doctor_id", "doctors", None),
    ("doctor_sessions", "branch_id", "branches", None),
    ("doctor_sessions", "doctor_id", "doctors", None),
    ("prescription_favourites", "doctor_id", "doctors", None),
    ("schedule_overrides", "branch_id", "branches", None),
    ("schedule_overrides", "doctor_id", "doctors", None),
    ("users", "branch_id", "branches", None),
    ("users", "doctor_id", "doctors", None),
    ("booking_requests", "appointment_id", "appointments", None),
    ("booking_requests", "branch_id", "branches", None),
    ("booking_requests", "department_id", "departments", None),
    ("booking_requests", "doctor_id", "doctors", None),
    ("queue_tokens", "appointment_id", "appointments", None),
    ("queue_tokens", "branch_id", "branches", None),
    ("queue_tokens", "department_id", "departments", None),
    ("queue_tokens", "doctor_id", "doctors", None),
    ("queue_tokens", "patient_id", "patients", None),
    ("schedule_breaks", "schedule_id", "doctor_schedules", "CASCADE"),
    ("user_sessions", "user_id", "users", None),
    ("waitlist_entries", "appointment_id", "appointments", None),
    ("waitlist_entries", "doctor_id", "doctors", None),
    ("waitlist_entries", "patient_id", "patients", None),
    ("consultations", "appointment_id", "appointments", None),
    ("consultations", "branch_id", "branches", None),
    ("consultations", "doctor_id", "doctors", None),
    ("consultations", "patient_id", "patients", None),
    ("consultations", "token_id", "queue_tokens", None),
    ("ratings", "doctor_id", "doctors", None),
    ("ratings", "patient_id", "patients", None),
    ("ratings", "token_id", "queue_tokens", None),
    ("bills", "appointment_id", "appointments", None),
    ("bills", "branch_id", "branches", None),
    ("bills", "consultation_id", "consultations", None),
    ("bills", "doctor_id", "doctors", None),
    ("bills", "patient_id", "patients", None),
    ("consultation_notes", "consultation_id", "consultations", None),
    ("consultation_notes", "patient_id", "patients", None),
    ("diagnoses", "consultation_id", "consultations", None),
    ("diagnoses", "patient_id", "patients", None),
    ("documents", "consultation_id", "consultations", None),
    ("documents", "patient_id", "patients", None),
    ("lab_orders", "consultation_id", "consultations", None),
    ("lab_orders", "doctor_id", "doctors", None),
    ("lab_orders", "lab_test_id", "lab_tests", None),
    ("lab_orders", "patient_id", "patients", None),
    ("vitals", "consultation_id", "consultations", None),
    ("vitals", "patient_id", "patients", None),
    ("bill_items", "bill_id", "bills", None),
    ("lab_results", "lab_order_id", "lab_orders", None),
    ("lab_results", "patient_id", "patients", None),
    ("payments", "bill_id", "bills", None),
    ("prescriptions", "consultation_id", "consultations", None),
    ("prescriptions", "doctor_id", "doctors", None),
    ("prescriptions", "document_id", "documents", None),
    ("prescriptions", "patient_id", "patients", None),
    ("prescription_items", "prescription_id", "prescriptions", None),
)
PLATFORM_UNLINKED = "tenant_id IS NOT NULL OR (doctor_id IS NULL AND branch_id IS NULL)"


def upgrade() -> None:
    bind = op.get_bind()
    _refuse_cross_tenant_rows(bind)
    for table in (*TENANT_TABLES, "whatsapp_numbers"):
        with op.batch_alter_table(table) as batch:
            if table in TENANT_TABLES:
                batch.create_unique_constraint(
                    op.f(f"uq_{table}_tenant_id_id"), ["tenant_id", "id"]
                )
            for _, column, referred, ondelete in _references(table):
                name = op.f(f"fk_{table}_{column}_{referred}")
                batch.drop_constraint(name, type_="foreignkey")
                batch.create_foreign_key(
                    name, referred, ["tenant_id", column], ["tenant_id", "id"], ondelete=ondelete
                )
            if table == "users":
                batch.create_check_constraint(op.f("ck_users_platform_unlinked"), PLATFORM_UNLINKED)
    if bind.dialect.name == "sqlite":
        install_guards(bind)  # the append-only triggers went with the rebuilt tables


def downgrade() -> None:
    bind = op.get_bind()
    for table in reversed((*TENANT_TABLES, "whatsapp_numbers")):
        with op.batch_alter_table(table) as batch:
            if table == "users":
                batch.drop_constraint(op.f("ck_users_platform_unlinked"), type_="check")
            for _, column, referred, ondelete in _references(table):
                name = op.f(f"fk_{table}_{column}_{referred}")
                batch.drop_constraint(name, type_="foreignkey")
                batch.create_foreign_key(name, referred, [column], ["id"], ondelete=ondelete)
    for table in reversed(TENANT_TABLES):
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(op.f(f"uq_{table}_tenant_id_id"), type_="unique")
    if bind.dialect.name == "sqlite":
        install_guards(bind)


def _references(table: str) -> list[tuple[str, str, str, str | None]]:
    return [ref for ref in REFERENCES if ref[0] == table]


def _refuse_cross_tenant_rows(bind: Connection) -> None:
    if bind.dialect.name == "postgresql":
        bind.exec_driver_sql("SELECT set_config('app.tenant_id', '*', true)")  # see every row
    found = []
    for table, column, referred, _ in REFERENCES:
        count = bind.exec_driver_sql(
            f"SELECT count(*) FROM {table} c JOIN {referred} p ON p.id = c.{column} "
            "WHERE c.tenant_id IS NOT NULL AND p.tenant_id <> c.tenant_id"
        ).scalar_one()
        if count:
            found.append(f"{table}.{column} -> {referred}: {count}")
    linked = bind.exec_driver_sql(f"SELECT count(*) FROM users WHERE NOT ({PLATFORM_UNLINKED})")
    if count := linked.scalar_one():
        found.append(f"platform users linked to a doctor or branch: {count}")
    if found:
        raise RuntimeError(
            "rows point at another clinic's rows; correct them, then upgrade again: "
            + "; ".join(found)
        )
