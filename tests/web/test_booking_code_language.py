"""The booking page's one-time code goes out in the page's language when the clinic has that
template approved, else in English."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from core.messaging.messages import SEND, from_payload
from core.messaging.templates import save_template
from core.tenancy import register_whatsapp_number
from db.models import OutboxMessage
from qlink.asgi import create_app
from qlink.seed.templates import OTP_BODY
from tests.support import make_clinic
from tests.web.conftest import settings_for


def _clinic(db, languages):
    with db.transaction("*") as s:
        clinic = make_clinic(s, f"otp-{uuid.uuid4().hex[:8]}")
        register_whatsapp_number(
            s,
            clinic.admin,
            phone_number_id=f"9{uuid.uuid4().int % 10**9}",
            branch_id=clinic.branch.id,
        )
        for lang in languages:
            save_template(
                s, clinic.admin, name="qlink_otp", language=lang, category="authentication",
                body=OTP_BODY[lang], status="approved",
            )  # fmt: skip
    return clinic


def _sent_language(db, clinic):
    with db.transaction(clinic.tenant_id, readonly=True) as s:
        payload = s.scalars(
            select(OutboxMessage.payload).where(
                OutboxMessage.tenant_id == clinic.tenant_id, OutboxMessage.kind == SEND
            )
        ).one()
    _, message = from_payload(payload)
    assert message.name == "qlink_otp"
    return message.language


@pytest.mark.parametrize(
    ("approved", "page", "sent"),
    [
        (("en", "hi"), "hi", "hi"),
        (("en",), "hi", "en"),  # no Hindi template approved: English
        (("en", "hi"), "en", "en"),
        (("en", "hi"), None, "en"),  # an old page that sends no language
    ],
)
def test_code_is_sent_in_the_pages_language_when_approved(db, tmp_path, approved, page, sent):
    clinic = _clinic(db, approved)
    body = {"phone": "+919812345678"} | ({"lang": page} if page else {})
    with TestClient(create_app(settings_for(db, tmp_path))) as client:
        response = client.post(f"/book/{clinic.tenant.slug}/api/code", json=body)
    assert response.status_code == 200, response.text
    assert _sent_language(db, clinic) == sent


def test_page_carries_its_language_for_the_code_request(db, tmp_path):
    clinic = _clinic(db, ("en",))
    with TestClient(create_app(settings_for(db, tmp_path))) as client:
        hindi = client.get(f"/book/{clinic.tenant.slug}?lang=hi").text
        odd = client.get(f"/book/{clinic.tenant.slug}?lang=<x>").text
    assert '<html lang="hi">' in hindi
    assert '<html lang="en">' in odd
