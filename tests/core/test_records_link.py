"""'My records' on WhatsApp: a signed link to the patient's own page, in English and Hindi."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

import pytest

from core.clock import FrozenClock
from core.patients.record_links import (
    LinkRevoked,
    check_generation,
    issue_records_link,
    revoke_records_links,
    verify_records_ref,
)
from core.signage.links import LinkExpired, LinkInvalid
from tests.core.conversation_support import LINKS, texts
from tests.core.test_conversation import chat, clock, doctor, ravi  # noqa: F401 (fixtures)


def _ref(reply: str) -> str:
    match = re.search(r"https://q\.example/me/([A-Za-z0-9_.-]+)", reply)
    assert match, reply
    return match[1]


def test_my_records_replies_with_a_working_link_for_this_patient(session, chat, ravi):  # noqa: F811
    reply = texts(chat.say("my records"))
    assert "Please do not forward it" in reply and "7 days" in reply
    ref = verify_records_ref(LINKS.secret, _ref(reply), now=chat.clock())
    assert (ref.tenant_id, ref.patient_id) == (chat.clinic.tenant_id, ravi.id)
    check_generation(session, ref)
    assert "https://q.example/me/" in texts(chat.tap("menu:records"))


def test_hindi_keyword_answers_in_the_catalogue(session, chat, ravi):  # noqa: F811
    reply = texts(chat.say("मेरे रिकॉर्ड"))
    assert "https://q.example/me/" in reply


def test_link_expires_and_revocation_withdraws_every_earlier_link(session, clinic_a):
    from tests.support import make_patient

    patient = make_patient(session, clinic_a)
    now = dt.datetime(2026, 12, 7, 6, 0, tzinfo=dt.UTC)
    admin = dataclasses.replace(clinic_a.admin, clock=FrozenClock(now))
    raw = issue_records_link(session, admin, patient_id=patient.id, secret="s")
    ref = verify_records_ref("s", raw, now=now)
    with pytest.raises(LinkExpired):
        verify_records_ref("s", raw, now=now + dt.timedelta(days=7))
    with pytest.raises(LinkInvalid):
        verify_records_ref("other-secret", raw, now=now)
    revoke_records_links(session, admin, patient_id=patient.id)
    with pytest.raises(LinkRevoked):
        check_generation(session, ref)
    fresh = issue_records_link(session, admin, patient_id=patient.id, secret="s")
    check_generation(session, verify_records_ref("s", fresh, now=now))
