from __future__ import annotations

import pytest
from sqlalchemy import select

from core import audit, tenancy
from core.errors import Conflict, NotFound, ValidationFailed
from db.models import Branch


def test_clinic_persona_is_built_and_audited(session, clinic_a):
    assert clinic_a.branch.tenant_id == clinic_a.tenant_id
    report = audit.verify_chain(session, clinic_a.tenant_id)
    assert report.ok and report.entries >= 5


def test_outsider_cannot_reach_another_clinics_branch(session, clinic_a, clinic_b):
    with pytest.raises(NotFound):
        tenancy.access_branch(session, clinic_b.admin, clinic_a.branch.id)


def test_scoped_session_never_returns_other_tenants_rows(session, clinic_a, clinic_b):
    session.info["tenant_id"] = clinic_a.tenant_id
    slugs = {(b.tenant_id) for b in session.scalars(select(Branch))}
    assert slugs == {clinic_a.tenant_id}


def test_duplicate_department_code_is_a_conflict(session, clinic_a):
    with pytest.raises(Conflict):
        tenancy.create_department(
            session, clinic_a.admin, branch_id=clinic_a.branch.id, code="gen", name="Again"
        )


def test_bad_slug_is_rejected(session, clinic_a):
    with pytest.raises(ValidationFailed):
        tenancy.create_branch(session, clinic_a.admin, slug="Bad Slug!", name="x")
