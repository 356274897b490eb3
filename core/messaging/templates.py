"""The clinic's WhatsApp message templates per language, as the admin edits them.

A template's name and language match what Meta approved; ``approved_template`` in
``core.messaging.outbound`` picks the patient's language and falls back to English. Editing the
body of an approved template puts it back to ``pending`` unless the admin says Meta approved it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit
from core.auth.permissions import require
from core.context import Actor, load_owned, tenant_of
from core.errors import ValidationFailed
from db.models import MessageTemplate

CATEGORIES = ("utility", "marketing", "authentication")
STATUSES = ("approved", "pending", "rejected", "paused")
LANGUAGES = ("en", "hi", "ta", "te", "kn", "ml", "mr", "bn", "gu")
_NAME = re.compile(r"^[a-z0-9_]{3,120}$")
MAX_BODY = 1024  # Meta's limit for a template body


@dataclass(frozen=True)
class TemplateRow:
    id: int
    name: str
    language: str
    category: str
    body: str
    status: str


def access_template(session: Session, actor: Actor, template_id: int) -> MessageTemplate:
    """Fetch a message template of the actor's clinic, or raise ``NotFound``."""
    return load_owned(session, actor, MessageTemplate, template_id, "Template")


def list_templates(session: Session, actor: Actor) -> list[TemplateRow]:
    """Return the clinic's templates by name, then language."""
    require(actor, "settings.write")
    tenant_id = tenant_of(session, actor)
    rows = session.scalars(
        select(MessageTemplate)
        .where(MessageTemplate.tenant_id == tenant_id)
        .order_by(MessageTemplate.name, MessageTemplate.language)
    )
    return [_row(t) for t in rows]


def save_template(
    session: Session,
    actor: Actor,
    *,
    name: str,
    language: str,
    category: str,
    body: str,
    status: str = "pending",
) -> TemplateRow:
    """Create or replace the template ``name`` in ``language`` (one row per pair)."""
    require(actor, "settings.write")
    tenant_id = tenant_of(session, actor)
    name = (name or "").strip().lower()
    body = (body or "").strip()
    _check(name, language, category, body, status)
    row = session.scalar(
        select(MessageTemplate).where(
            MessageTemplate.tenant_id == tenant_id,
            MessageTemplate.name == name,
            MessageTemplate.language == language,
        )
    )
    created = row is None
    if row is None:
        row = MessageTemplate(tenant_id=tenant_id, name=name, language=language)
        session.add(row)
    row.category, row.body, row.status = category, body, status
    session.flush()
    audit.record(
        session,
        actor,
        "template.create" if created else "template.edit",
        entity="message_template",
        entity_id=row.id,
        detail={"name": name, "language": language, "status": status},
    )
    return _row(row)


def _check(name: str, language: str, category: str, body: str, status: str) -> None:
    if not _NAME.match(name):
        raise ValidationFailed(
            "Template name: 3-120 lowercase letters, digits or '_' (as approved by Meta)",
            field="name",
        )
    if language not in LANGUAGES:
        raise ValidationFailed(f"Unknown language {language!r}", field="language")
    if category not in CATEGORIES:
        raise ValidationFailed(f"Category is one of {', '.join(CATEGORIES)}", field="category")
    if status not in STATUSES:
        raise ValidationFailed(f"Status is one of {', '.join(STATUSES)}", field="status")
    if not body or len(body) > MAX_BODY:
        raise ValidationFailed(f"Body is 1-{MAX_BODY} characters", field="body")


def _row(t: MessageTemplate) -> TemplateRow:
    return TemplateRow(t.id, t.name, t.language, t.category, t.body, t.status)
