"""The database itself refuses a row of one clinic that points at another clinic's row.

Raw SQL, no core and no ORM: what any buggy code path or hand-written script could send. Each
test first writes the same statement with clinic A's own row (accepted), so the refusal can only
come from the clinic mismatch.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tests.support import add_doctor, make_patient

NOW = "2026-03-02 09:00:00"

TOKEN = text(
    "INSERT INTO queue_tokens (tenant_id, branch_id, department_id, patient_id, service_date,"
    " queue_key, number, code, kind, status, source, recall_count, issued_at, version,"
    " created_at, near_turn_sent)"
    " VALUES (:tenant, :branch, :department, :patient, '2026-03-02', :queue, :number, 'GEN-1',"
    " 'walk_in', 'done', 'reception', 0, :now, 1, :now, false)"
)
APPOINTMENT = text(
    "INSERT INTO appointments (tenant_id, branch_id, department_id, doctor_id, patient_id,"
    " slot_start, slot_end, service_date, seat, overbooked, visit_type, source, status,"
    " created_at, updated_at)"
    " VALUES (:tenant, :branch, :department, :doctor, :patient, :start, :end, '2026-03-02', 1,"
    " false, 'new', 'reception', 'scheduled', :now, :now)"
)
USER = text(
    "INSERT INTO users (tenant_id, username, full_name, role, password_hash, branch_id, active,"
    " failed_logins, created_at)"
    " VALUES (:tenant, :username, 'Desk', 'receptionist', 'x', :branch, true, 0, :now)"
)


def _refused(session: Session, statement: Any, **params: object) -> bool:
    try:
        with session.begin_nested():
            session.execute(statement, {"now": NOW, **params})
    except IntegrityError:
        return True
    return False


def test_token_for_another_clinics_patient_is_refused(session, clinic_a, clinic_b):
    own, other = make_patient(session, clinic_a), make_patient(session, clinic_b)
    row = {
        "tenant": clinic_a.tenant_id,
        "branch": clinic_a.branch.id,
        "department": clinic_a.department.id,
    }
    assert not _refused(session, TOKEN, **row, patient=own.id, queue="dept:a", number=1)
    assert _refused(session, TOKEN, **row, patient=other.id, queue="dept:b", number=2)


def test_appointment_with_another_clinics_doctor_is_refused(session, clinic_a, clinic_b):
    patient = make_patient(session, clinic_a)
    own, other = add_doctor(session, clinic_a), add_doctor(session, clinic_b)
    row = {
        "tenant": clinic_a.tenant_id,
        "branch": clinic_a.branch.id,
        "department": clinic_a.department.id,
        "patient": patient.id,
    }
    first = {"start": "2026-03-02 04:00:00", "end": "2026-03-02 04:30:00"}
    second = {"start": "2026-03-02 05:00:00", "end": "2026-03-02 05:30:00"}
    assert not _refused(session, APPOINTMENT, **row, **first, doctor=own.id)
    assert _refused(session, APPOINTMENT, **row, **second, doctor=other.id)


def test_user_at_another_clinics_branch_is_refused(session, clinic_a, clinic_b):
    row = {"tenant": clinic_a.tenant_id}
    assert not _refused(session, USER, **row, username="desk-own", branch=clinic_a.branch.id)
    assert _refused(session, USER, **row, username="desk-other", branch=clinic_b.branch.id)


def test_platform_user_linked_to_a_clinics_branch_is_refused(session, clinic_a):
    # A composite key does not check a row whose tenant_id is NULL; a CHECK closes that gap.
    assert not _refused(session, USER, tenant=None, username="platform-ops", branch=None)
    assert _refused(session, USER, tenant=None, username="platform-x", branch=clinic_a.branch.id)
