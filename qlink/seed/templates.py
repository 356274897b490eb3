"""Approved WhatsApp templates for the demo clinics, in English and Hindi.

Outside the 24-hour window QLink may send only an approved template (``core.messaging.outbound``),
so a demo without them would skip every reminder. The bodies are the catalogue's own wording
with Meta's ``{{n}}`` placeholders in the order QLink sends the parameters; a real clinic gets
its templates approved by Meta and recorded the same way. Idempotent: only missing rows are added.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.messaging import booking_notices
from core.messaging.catalogue import text
from core.messaging.notify import DOCUMENT_TEMPLATE, TEMPLATE_PREFIX
from core.messaging.rating import TEMPLATE as RATING_TEMPLATE
from core.messaging.slot_offer import TEMPLATE as SLOT_OFFER_TEMPLATE
from core.scheduling.web_booking import OTP_TEMPLATE
from db.models import MessageTemplate, Tenant

LANGUAGES = ("en", "hi")
# template name -> (catalogue key, its parameters in the order notify sends them)
FROM_CATALOGUE = {
    TEMPLATE_PREFIX + "reminder_24h": ("notify.reminder_24h", ("name", "doctor", "when", "branch")),
    TEMPLATE_PREFIX + "reminder_1h": ("notify.reminder_1h", ("name", "doctor", "when", "branch")),
    RATING_TEMPLATE: ("conv.rate.ask", ("doctor",)),
    TEMPLATE_PREFIX + "booking_confirmed": (
        "notify.booking_confirmed",
        ("name", "doctor", "when", "branch"),
    ),
    # quick-reply buttons Accept / Decline (conv.offer.accept / conv.offer.decline)
    SLOT_OFFER_TEMPLATE: ("notify.slot_offer", ("name", "doctor", "when", "branch", "until")),
}
DOCUMENT_BODY = {  # one parameter: the caption or the file name; the document is the header
    "en": "Your {{1}} from the clinic is attached.",
    "hi": "क्लिनिक से आपका {{1}} संलग्न है।",
}


# the web booking page's one-time code: Meta's authentication template (body + copy-code button)
OTP_BODY = {
    "en": "{{1}} is your verification code. For your security, do not share this code.",
    "hi": "{{1}} आपका सत्यापन कोड है। अपनी सुरक्षा के लिए यह कोड किसी से साझा न करें।",
}
CATEGORIES = {OTP_TEMPLATE: "AUTHENTICATION"}  # every other demo template is UTILITY


NOTICE_PARAMS = {  # booking notices' parameters in send order (core.messaging.booking_notices)
    booking_notices.BOOKING_CANCELLED: ("name", "doctor", "when", "branch"),
    booking_notices.BOOKING_RESCHEDULED: ("name", "doctor", "when", "branch", "previous"),
    # quick-reply buttons Accept / Choose another time (conv.proposal.accept / .other)
    booking_notices.REQUEST_PROPOSED: ("name", "when", "branch"),
}


def _notice_bodies(lang: str) -> dict[str, str]:
    """Booking notices (cancelled, moved, another time proposed) with {{n}} in send order."""
    bodies = {}
    for kind, name in booking_notices.TEMPLATES.items():
        params = NOTICE_PARAMS[kind]
        values = {p: "{{" + str(i) + "}}" for i, p in enumerate(params, start=1)}
        bodies[name] = booking_notices.TEXTS[lang][kind].format(note="", **values)
    return bodies


def template_bodies(lang: str) -> dict[str, str]:
    """Every demo template's body in ``lang``, by template name."""
    bodies = {}
    for name, (key, params) in FROM_CATALOGUE.items():
        placeholders = {p: "{{" + str(i) + "}}" for i, p in enumerate(params, start=1)}
        bodies[name] = text(lang, key, **placeholders)
    bodies[DOCUMENT_TEMPLATE] = DOCUMENT_BODY[lang]
    bodies[OTP_TEMPLATE] = OTP_BODY[lang]
    bodies.update(_notice_bodies(lang))
    return bodies


def ensure_demo_templates(session: Session, slugs: tuple[str, ...], *, at: dt.datetime) -> int:
    """Record the approved templates of the clinics ``slugs`` that lack them; return how many."""
    tenants = session.execute(select(Tenant.id).where(Tenant.slug.in_(slugs))).scalars().all()
    added = 0
    for tenant_id in tenants:
        rows = session.execute(
            select(MessageTemplate.name, MessageTemplate.language).where(
                MessageTemplate.tenant_id == tenant_id
            )
        )
        have = {(name, lang) for name, lang in rows}
        for lang in LANGUAGES:
            for name, body in template_bodies(lang).items():
                if (name, lang) in have:
                    continue
                session.add(
                    MessageTemplate(
                        tenant_id=tenant_id,
                        name=name,
                        language=lang,
                        category=CATEGORIES.get(name, "UTILITY"),
                        body=body,
                        status="approved",
                        created_at=at,
                    )
                )
                added += 1
    session.flush()
    return added
