"""Which branch a screen URL names: ``main`` or, when slugs collide, ``sharma.main``."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.context import Actor, tenant_of
from core.errors import NotFound
from db.models import Branch, Tenant


class AmbiguousBranch(NotFound):
    """Several clinics have a branch with that slug; the URL must name the clinic too."""

    code = "ambiguous_branch"


@dataclass(frozen=True)
class BranchRef:
    """A branch as the screens need it: ids for scoping, names and language for display."""

    tenant_id: int
    branch_id: int
    tenant_slug: str
    slug: str
    clinic_name: str
    name: str
    timezone: str
    language: str

    @property
    def qualified(self) -> str:
        return f"{self.tenant_slug}.{self.slug}"


_BRANCH_REFS = select(  # the columns of a BranchRef, in its field order
    Branch.tenant_id,
    Branch.id,
    Tenant.slug,
    Branch.slug,
    Tenant.name,
    Branch.name,
    func.coalesce(Branch.timezone, Tenant.timezone),
    Branch.signage_language,
).join(Tenant, Tenant.id == Branch.tenant_id)


def resolve_branch(session: Session, ref: str) -> BranchRef:
    """Find the active branch ``ref`` names; the session must be in the platform scope.

    Raises ``AmbiguousBranch`` when a bare slug matches branches of several clinics and
    ``NotFound`` when nothing matches.
    """
    tenant_slug, dot, slug = ref.partition(".")
    if not dot:
        tenant_slug, slug = "", ref
    query = _BRANCH_REFS.where(
        Branch.slug == slug, Branch.active.is_(True), Tenant.status == "active"
    ).limit(3)
    if tenant_slug:
        query = query.where(Tenant.slug == tenant_slug)
    rows = session.execute(query).all()
    if not rows:
        raise NotFound(f"No screen is set up for branch {ref!r}")
    if len(rows) > 1:
        raise AmbiguousBranch(
            f"Several clinics have a branch called {slug!r}; "
            f"use the clinic's name too, e.g. /signage/{rows[0][2]}.{slug}"
        )
    return BranchRef(*rows[0])


def branch_ref(session: Session, tenant_id: int, branch_id: int) -> BranchRef:
    """Load one branch of the tenant as a ``BranchRef``, or raise ``NotFound``."""
    row = session.execute(
        _BRANCH_REFS.where(Branch.tenant_id == tenant_id, Branch.id == branch_id)
    ).first()
    if row is None:
        raise NotFound("Branch not found")
    return BranchRef(*row)


def own_branch(session: Session, actor: Actor, branch: BranchRef) -> None:
    """Check ``branch`` belongs to the actor's clinic, or raise ``NotFound``.

    Screens resolve their branch in the platform scope, so holding a reference proves nothing;
    reads that scope their queries by ``branch.tenant_id`` call this first.
    """
    if branch.tenant_id != tenant_of(session, actor):
        raise NotFound("Branch not found")
