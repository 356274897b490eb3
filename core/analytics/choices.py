"""What the owner's filters offer: the clinic's branches, departments and doctors (report.read)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.auth.permissions import require
from core.context import Actor, tenant_of
from db.models import Branch, Department, Doctor


@dataclass(frozen=True)
class Choice:
    id: int
    name: str
    parent_id: int | None = None  # a department's branch, a doctor's department


@dataclass(frozen=True)
class FilterChoices:
    branches: tuple[Choice, ...]
    departments: tuple[Choice, ...]
    doctors: tuple[Choice, ...]

    def departments_of(self, branch_id: int | None) -> tuple[Choice, ...]:
        if branch_id is None:
            return self.departments
        return tuple(d for d in self.departments if d.parent_id == branch_id)

    def doctors_of(self, department_ids: set[int] | None) -> tuple[Choice, ...]:
        if department_ids is None:
            return self.doctors
        return tuple(d for d in self.doctors if d.parent_id in department_ids)


def filter_choices(session: Session, actor: Actor) -> FilterChoices:
    """The clinic's active branches, departments and doctors, by name, for report filters."""
    require(actor, "report.read")
    tenant_id = tenant_of(session, actor)
    branches = session.execute(
        select(Branch.id, Branch.name)
        .where(Branch.tenant_id == tenant_id, Branch.active.is_(True))
        .order_by(Branch.name, Branch.id)
    ).all()
    departments = session.execute(
        select(Department.id, Department.name, Department.branch_id)
        .where(Department.tenant_id == tenant_id, Department.active.is_(True))
        .order_by(Department.name, Department.id)
    ).all()
    doctors = session.execute(
        select(Doctor.id, Doctor.full_name, Doctor.department_id)
        .where(Doctor.tenant_id == tenant_id)
        .order_by(Doctor.full_name, Doctor.id)
    ).all()
    return FilterChoices(
        tuple(Choice(int(i), n) for i, n in branches),
        tuple(Choice(int(i), n, int(b)) for i, n, b in departments),
        tuple(Choice(int(i), n, int(d) if d is not None else None) for i, n, d in doctors),
    )
