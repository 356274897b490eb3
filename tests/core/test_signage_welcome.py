"""The TV's "get a token on WhatsApp" contact: the branch's number as a wa.me chat link."""

from __future__ import annotations

import pytest

from core import tenancy
from core.errors import NotFound
from core.signage.branches import branch_ref
from core.signage.welcome import contact_for, whatsapp_contact


def _ref(session, clinic):
    return branch_ref(session, clinic.tenant_id, clinic.branch.id)


def test_branch_number_becomes_a_wa_me_link_with_a_greeting(session, clinic_a):
    tenancy.register_whatsapp_number(
        session,
        clinic_a.admin,
        phone_number_id="1000001",
        branch_id=clinic_a.branch.id,
        display_number="+91 99999 00001",
    )
    contact = whatsapp_contact(session, clinic_a.system, _ref(session, clinic_a))
    assert contact is not None
    assert contact.number == "+91 99999 00001"
    assert contact.link.startswith("https://wa.me/919999900001?text=Hi%2C%20I%20would")


def test_branch_without_a_dialable_number_has_no_contact(session, clinic_a):
    assert whatsapp_contact(session, clinic_a.system, _ref(session, clinic_a)) is None
    tenancy.register_whatsapp_number(
        session, clinic_a.admin, phone_number_id="1000002", branch_id=clinic_a.branch.id
    )
    assert whatsapp_contact(session, clinic_a.system, _ref(session, clinic_a)) is None


def test_another_clinics_number_is_never_shown(session, clinic_a, clinic_b):
    tenancy.register_whatsapp_number(
        session,
        clinic_b.admin,
        phone_number_id="1000003",
        branch_id=clinic_b.branch.id,
        display_number="+91 99999 00003",
    )
    assert whatsapp_contact(session, clinic_a.system, _ref(session, clinic_a)) is None
    with pytest.raises(NotFound):
        whatsapp_contact(session, clinic_a.system, _ref(session, clinic_b))


@pytest.mark.parametrize("printed", [None, "", "12345", "+1 (555) 0100 0000 0000 00"])
def test_unusable_printed_numbers_give_no_link(printed):
    assert contact_for(printed) is None
