"""Clear Meta's policy block (368 and friends) once the clinic has sorted it out with Meta.

The relay sets ``tenants.settings["whatsapp_blocked"]`` (``outbound.block_tenant``) and stops
every send of the clinic; only an operator clears it, and the audit chain says who and when.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit
from core.clock import Clock, system_clock
from core.context import Actor
from core.errors import NotFound
from core.messaging.outbound import BLOCK_KEY
from db.models import Tenant


def unblock_whatsapp(session: Session, *, slug: str, clock: Clock = system_clock) -> bool:
    """Let the clinic ``slug`` send WhatsApp messages again; return whether it was blocked.

    Platform scope (an operator command). Locks: the tenant row until the caller commits.
    """
    tenant = session.execute(select(Tenant).where(Tenant.slug == slug).with_for_update()).scalar()
    if tenant is None:
        raise NotFound(f"clinic {slug!r} not found")
    settings = dict(tenant.settings or {})
    block = settings.pop(BLOCK_KEY, None)
    if block is None:
        return False
    tenant.settings = settings
    detail = (
        {"code": block.get("code"), "since": block.get("at")} if isinstance(block, dict) else {}
    )
    audit.record(
        session,
        Actor.system(tenant.id, clock=clock),
        "whatsapp.unblock",
        entity="tenant",
        entity_id=tenant.id,
        detail=detail,
    )
    return True
