from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from core import audit
from core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from core.patients import (
    ConsentGrant,
    PhoneVault,
    access_patient,
    current_consents,
    find_by_whatsapp,
    register_patient,
    search_patients,
    update_patient,
)
from db.models import AuditEntry, Consent, Patient

PHONE = "98765 43210"


@pytest.fixture
def vault():
    return PhoneVault("test-data-key")


def register(session, actor, vault, full_name="Ravi Sharma", **fields):
    return register_patient(session, actor, vault=vault, full_name=full_name, **fields)


def codes(results):
    return [r.code for r in results]


def count(session, model, tenant_id):
    return session.scalar(
        select(func.count()).select_from(model).where(model.tenant_id == tenant_id)
    )


def actions(session, tenant_id):
    return [
        a
        for (a,) in session.execute(
            select(AuditEntry.action)
            .where(AuditEntry.tenant_id == tenant_id)
            .order_by(AuditEntry.seq)
        )
    ]


def years_ago(years):
    today = dt.date.today()
    return today.replace(year=today.year - years, day=min(today.day, 28))


# Codes


def test_codes_are_sequential_per_clinic_and_independent_across_clinics(
    session, clinic_a, clinic_b, vault
):
    a = [
        register(session, clinic_a.receptionist, vault, f"Patient {n}").patient.code for n in "abc"
    ]
    b = [register(session, clinic_b.receptionist, vault, f"Patient {n}").patient.code for n in "xy"]
    assert a == ["PAT0001", "PAT0002", "PAT0003"]
    assert b == ["PAT0001", "PAT0002"]


# Search


@pytest.fixture
def roster(session, clinic_a, vault):
    desk = clinic_a.receptionist
    return {
        "ravi": register(session, desk, vault, "Ravi Sharma", phone=PHONE).patient,
        "sharmila": register(
            session, desk, vault, "Sharmila Devi", phone="+91 91234 51234"
        ).patient,
        "anand": register(session, desk, vault, "Anand Rao", phone="080 2345 1234").patient,
    }


def test_partial_name_finds_patients_with_whole_name_prefix_first(session, clinic_a, vault, roster):
    found = search_patients(session, clinic_a.receptionist, vault=vault, query="SHAR")
    assert [r.full_name for r in found] == ["Sharmila Devi", "Ravi Sharma"]


def test_name_search_treats_like_wildcards_literally(session, clinic_a, vault, roster):
    assert search_patients(session, clinic_a.receptionist, vault=vault, query="%") == []
    assert search_patients(session, clinic_a.receptionist, vault=vault, query="_a") == []


@pytest.mark.parametrize("query", ["9876543210", "+91-98765-43210", "098765 43210"])
def test_full_phone_in_any_format_finds_the_patient(session, clinic_a, vault, roster, query):
    found = search_patients(session, clinic_a.receptionist, vault=vault, query=query)
    assert codes(found) == [roster["ravi"].code]


def test_last_four_digits_find_every_patient_with_that_suffix(session, clinic_a, vault, roster):
    found = search_patients(session, clinic_a.receptionist, vault=vault, query="1234")
    assert {r.full_name for r in found} == {"Sharmila Devi", "Anand Rao"}


def test_code_search_is_case_insensitive_prefix(session, clinic_a, vault, roster):
    desk = clinic_a.receptionist
    assert codes(search_patients(session, desk, vault=vault, query="pat0002")) == ["PAT0002"]
    assert codes(search_patients(session, desk, vault=vault, query="PAT000")) == [
        "PAT0001",
        "PAT0002",
        "PAT0003",
    ]


def test_partial_or_invalid_phone_finds_nothing_instead_of_failing(
    session, clinic_a, vault, roster
):
    for query in ("98765", "9876543", "   "):
        assert search_patients(session, clinic_a.receptionist, vault=vault, query=query) == []


def test_results_carry_masked_phone_never_the_number(session, clinic_a, vault, roster):
    (hit,) = search_patients(session, clinic_a.receptionist, vault=vault, query="Ravi")
    assert hit.masked_phone == "98XXXXXX10"
    assert "9876543210" not in repr(hit)


def test_limit_caps_the_number_of_results(session, clinic_a, vault, roster):
    found = search_patients(session, clinic_a.receptionist, vault=vault, query="r", limit=2)
    assert len(found) == 2  # Ravi Sharma and Anand Rao start a name or a word with "r"


def test_one_or_two_letters_match_the_start_of_a_name_or_word(session, clinic_a, vault, roster):
    found = search_patients(session, clinic_a.receptionist, vault=vault, query="ra")
    assert [r.full_name for r in found] == ["Ravi Sharma", "Anand Rao"]  # not "Sharmila"


def test_lab_technician_may_search(session, clinic_a, vault, roster):
    assert search_patients(session, clinic_a.lab, vault=vault, query="Anand")


# Duplicates


def test_same_phone_and_similar_name_returns_a_duplicate_warning(session, clinic_a, vault):
    first = register(session, clinic_a.receptionist, vault, "Ravi Sharma", phone=PHONE).patient
    again = register(session, clinic_a.receptionist, vault, "ravi  shrama", phone="+919876543210")
    assert [w.patient.id for w in again.duplicates] == [first.id]
    assert again.duplicates[0].patient.masked_phone == "98XXXXXX10"
    assert again.patient.code == "PAT0002"


def test_family_member_on_same_phone_gets_no_warning(session, clinic_a, vault):
    register(session, clinic_a.receptionist, vault, "Ravi Sharma", phone=PHONE)
    other = register(session, clinic_a.receptionist, vault, "Meena Iyer", phone=PHONE)
    assert other.duplicates == ()


def test_similar_name_with_another_phone_gets_no_warning(session, clinic_a, vault):
    register(session, clinic_a.receptionist, vault, "Ravi Sharma", phone=PHONE)
    other = register(session, clinic_a.receptionist, vault, "Ravi Sharma", phone="91234 51234")
    assert other.duplicates == ()


# Bad input


def _future():
    return dt.date.today() + dt.timedelta(days=3)


BAD_INPUT = [
    ({"phone": "12345"}, "phone"),
    ({"date_of_birth": _future()}, "date_of_birth"),
    ({"date_of_birth": years_ago(140)}, "date_of_birth"),
    ({"full_name": "   "}, "full_name"),
    ({"full_name": "x" * 121}, "full_name"),
    ({"full_name": "12345"}, "full_name"),
    ({"blood_group": "C+"}, "blood_group"),
    ({"gender": "robot"}, "gender"),
    ({"age_years": 131}, "age_years"),
    ({"age_years": -1}, "age_years"),
    ({"email": "not-an-email"}, "email"),
    ({"preferred_language": "english!"}, "preferred_language"),
    ({"consents": [ConsentGrant("marketing")]}, "consents"),
]


@pytest.mark.parametrize(("fields", "field"), BAD_INPUT, ids=[f for _, f in BAD_INPUT])
def test_bad_input_is_rejected_and_nothing_is_written(session, clinic_a, vault, fields, field):
    tenant = clinic_a.tenant_id
    before = [count(session, m, tenant) for m in (Patient, Consent, AuditEntry)]
    fields = {"full_name": "Ravi Sharma", **fields}
    with pytest.raises(ValidationFailed) as caught:
        register_patient(session, clinic_a.receptionist, vault=vault, **fields)
    assert caught.value.field == field
    assert [count(session, m, tenant) for m in (Patient, Consent, AuditEntry)] == before


def test_rejected_registration_does_not_consume_a_code(session, clinic_a, vault):
    with pytest.raises(ValidationFailed):
        register(session, clinic_a.receptionist, vault, phone="123")
    assert register(session, clinic_a.receptionist, vault).patient.code == "PAT0001"


def test_inputs_are_normalised_before_storing(session, clinic_a, vault):
    patient = register(
        session,
        clinic_a.receptionist,
        vault,
        "  Ravi   Kumar ",
        gender="M",
        blood_group="ab +",
        email="Ravi@Example.COM",
    ).patient
    assert (patient.full_name, patient.name_key) == ("Ravi Kumar", "ravi kumar")
    assert (patient.gender, patient.blood_group, patient.email) == (
        "male",
        "AB+",
        "Ravi@example.com",
    )


def test_phone_is_stored_encrypted_with_hash_and_suffix(session, clinic_a, vault):
    patient = register(session, clinic_a.receptionist, vault, phone=PHONE).patient
    assert b"9876543210" not in patient.phone_cipher
    assert vault.decrypt(patient.phone_cipher) == "+919876543210"
    assert patient.phone_hash == vault.lookup_hash("+919876543210")
    assert patient.phone_last4 == "3210"


# Minors and consent


def test_minor_without_guardian_or_guardian_consent_is_rejected(session, clinic_a, vault):
    with pytest.raises(ValidationFailed) as caught:
        register(session, clinic_a.receptionist, vault, "Chhotu", date_of_birth=years_ago(10))
    assert caught.value.field == "guardian_patient_id"
    with pytest.raises(ValidationFailed):
        register(
            session,
            clinic_a.receptionist,
            vault,
            "Chhotu",
            age_years=17,
            consents=[ConsentGrant("treatment")],
        )


def test_minor_with_linked_guardian_is_registered(session, clinic_a, vault):
    parent = register(session, clinic_a.receptionist, vault, "Sunita Sharma").patient
    child = register(
        session,
        clinic_a.receptionist,
        vault,
        "Aarav Sharma",
        age_years=6,
        guardian_patient_id=parent.id,
        guardian_relation="mother",
        consents=[ConsentGrant("treatment", by_guardian=True)],
    ).patient
    consent = session.scalar(select(Consent).where(Consent.patient_id == child.id))
    assert consent.given_by_guardian_id == parent.id


def test_minor_with_guardian_consent_at_desk_is_registered(session, clinic_a, vault):
    child = register(
        session,
        clinic_a.receptionist,
        vault,
        "Aarav",
        date_of_birth=years_ago(5),
        guardian_relation="father",
        consents=[ConsentGrant("treatment", by_guardian=True)],
    ).patient
    assert current_consents(session, clinic_a.receptionist, child.id) == {"treatment": True}


def test_guardian_must_be_an_adult_of_the_same_clinic(session, clinic_a, clinic_b, vault):
    outsider = register(session, clinic_b.receptionist, vault, "Other Parent").patient
    with pytest.raises(ValidationFailed):
        register(
            session,
            clinic_a.receptionist,
            vault,
            "Kid",
            age_years=4,
            guardian_patient_id=outsider.id,
        )
    teen = register(
        session,
        clinic_a.receptionist,
        vault,
        "Teen",
        age_years=15,
        guardian_relation="aunt",
        consents=[ConsentGrant("treatment", by_guardian=True)],
    ).patient
    with pytest.raises(ValidationFailed):
        register(
            session, clinic_a.receptionist, vault, "Kid", age_years=4, guardian_patient_id=teen.id
        )


def test_consents_are_recorded_per_purpose(session, clinic_a, vault):
    patient = register(
        session,
        clinic_a.receptionist,
        vault,
        consents=[
            ConsentGrant("treatment"),
            ConsentGrant("whatsapp", method="whatsapp"),
            ConsentGrant("research", granted=False),
        ],
    ).patient
    assert current_consents(session, clinic_a.receptionist, patient.id) == {
        "treatment": True,
        "whatsapp": True,
        "research": False,
    }


# Permissions and other clinics


def test_lab_technician_cannot_register_a_patient(session, clinic_a, vault):
    with pytest.raises(PermissionDenied):
        register(session, clinic_a.lab, vault)
    assert count(session, Patient, clinic_a.tenant_id) == 0


def test_lab_technician_cannot_update_a_patient(session, clinic_a, vault):
    patient = register(session, clinic_a.receptionist, vault).patient
    with pytest.raises(PermissionDenied):
        update_patient(session, clinic_a.lab, patient.id, vault=vault, full_name="X Y")


def test_outsider_gets_not_found_and_sees_nothing(session, clinic_a, clinic_b, vault):
    patient = register(session, clinic_a.receptionist, vault, phone=PHONE).patient
    outsider = clinic_b.receptionist
    with pytest.raises(NotFound):
        access_patient(session, outsider, patient.id)
    with pytest.raises(NotFound):
        update_patient(session, outsider, patient.id, vault=vault, full_name="Hacked")
    with pytest.raises(NotFound):
        current_consents(session, outsider, patient.id)
    for query in ("Ravi", PHONE, "3210", patient.code):
        assert search_patients(session, outsider, vault=vault, query=query) == []
    assert find_by_whatsapp(session, outsider, vault=vault, phone="919876543210") == []
    assert patient.full_name == "Ravi Sharma"


def test_erased_patient_is_not_found_and_not_searchable(session, clinic_a, vault):
    patient = register(session, clinic_a.receptionist, vault, phone=PHONE).patient
    patient.erased_at = dt.datetime.now(dt.UTC)
    session.flush()
    with pytest.raises(NotFound):
        access_patient(session, clinic_a.receptionist, patient.id)
    assert search_patients(session, clinic_a.receptionist, vault=vault, query="Ravi") == []


# Updates


def test_update_changes_only_given_fields_and_audits_field_names(session, clinic_a, vault):
    patient = register(
        session, clinic_a.receptionist, vault, phone=PHONE, email="old@example.com"
    ).patient
    update_patient(
        session,
        clinic_a.receptionist,
        patient.id,
        vault=vault,
        full_name="Ravi Kumar Sharma",
        email="old@example.com",
        phone="91234 56789",
    )
    entry = session.scalars(
        select(AuditEntry).where(
            AuditEntry.action == "patient.update", AuditEntry.tenant_id == clinic_a.tenant_id
        )
    ).one()
    assert entry.detail == {"fields": ["full_name", "phone"]}
    assert patient.name_key == "ravi kumar sharma"
    assert patient.phone_last4 == "6789"
    found = search_patients(session, clinic_a.receptionist, vault=vault, query="91234 56789")
    assert codes(found) == [patient.code]


def test_update_without_changes_writes_no_audit_entry(session, clinic_a, vault):
    patient = register(session, clinic_a.receptionist, vault, gender="female").patient
    before = count(session, AuditEntry, clinic_a.tenant_id)
    update_patient(session, clinic_a.receptionist, patient.id, vault=vault, gender="F")
    assert count(session, AuditEntry, clinic_a.tenant_id) == before


def test_update_can_clear_the_phone(session, clinic_a, vault):
    patient = register(session, clinic_a.receptionist, vault, phone=PHONE).patient
    update_patient(session, clinic_a.receptionist, patient.id, vault=vault, phone=None)
    assert (patient.phone_cipher, patient.phone_hash, patient.phone_last4) == (None, None, None)


def test_update_that_makes_a_minor_without_guardian_is_rejected(session, clinic_a, vault):
    patient = register(session, clinic_a.receptionist, vault).patient
    with pytest.raises(ValidationFailed):
        update_patient(
            session, clinic_a.receptionist, patient.id, vault=vault, date_of_birth=years_ago(12)
        )
    assert patient.date_of_birth is None


def test_bad_update_is_rejected_and_nothing_changes(session, clinic_a, vault):
    patient = register(session, clinic_a.receptionist, vault, phone=PHONE).patient
    with pytest.raises(ValidationFailed):
        update_patient(
            session,
            clinic_a.receptionist,
            patient.id,
            vault=vault,
            full_name="Ravi Verma",
            blood_group="Z",
        )
    assert patient.full_name == "Ravi Sharma"


# Audit


def test_reads_searches_and_writes_are_audited_and_chain_verifies(session, clinic_a, vault):
    desk = clinic_a.receptionist
    patient = register(session, desk, vault, phone=PHONE).patient
    access_patient(session, desk, patient.id)
    search_patients(session, desk, vault=vault, query="Ravi Sharma")
    search_patients(session, desk, vault=vault, query=PHONE)
    tail = actions(session, clinic_a.tenant_id)[-4:]
    assert tail == ["patient.create", "patient.read", "patient.search", "patient.search"]
    details = session.scalars(
        select(AuditEntry.detail).where(
            AuditEntry.tenant_id == clinic_a.tenant_id, AuditEntry.action == "patient.search"
        )
    ).all()
    assert [d["kind"] for d in details] == ["name", "phone"]
    assert "Ravi" not in str(details) and "98765" not in str(details)
    assert audit.verify_chain(session, clinic_a.tenant_id).ok


# WhatsApp identity


def test_whatsapp_phone_then_bsuid_alone_find_the_same_patient(session, clinic_a, vault):
    patient = register(session, clinic_a.receptionist, vault, phone=PHONE).patient
    system = clinic_a.system
    assert find_by_whatsapp(
        session, system, vault=vault, phone="919876543210", bsuid="IN.abc123"
    ) == [patient]
    assert patient.wa_bsuid == "IN.abc123"
    assert find_by_whatsapp(session, system, vault=vault, bsuid="IN.abc123") == [patient]
    assert find_by_whatsapp(session, system, vault=vault, bsuid="IN.other") == []


def test_whatsapp_lookup_returns_bsuid_holder_first_then_family(session, clinic_a, vault):
    parent = register(
        session, clinic_a.receptionist, vault, "Sunita", phone=PHONE, wa_bsuid="IN.sunita"
    ).patient
    child = register(
        session,
        clinic_a.receptionist,
        vault,
        "Aarav",
        phone=PHONE,
        age_years=8,
        guardian_patient_id=parent.id,
        guardian_relation="mother",
    ).patient
    found = find_by_whatsapp(
        session, clinic_a.system, vault=vault, phone="+919876543210", bsuid="IN.sunita"
    )
    assert found == [parent, child]
    assert child.wa_bsuid is None


def test_a_bsuid_links_to_one_patient_only(session, clinic_a, vault):
    register(session, clinic_a.receptionist, vault, "Sunita", wa_bsuid="IN.sunita")
    with pytest.raises(Conflict):
        register(session, clinic_a.receptionist, vault, "Someone", wa_bsuid="IN.sunita")


def test_whatsapp_number_is_read_as_international(session, clinic_a, vault):
    visitor = register(session, clinic_a.receptionist, vault, "Tom", phone="+44 20 7946 0958")
    found = find_by_whatsapp(session, clinic_a.system, vault=vault, phone="442079460958")
    assert found == [visitor.patient]


def test_whatsapp_lookup_needs_a_number_or_user_id(session, clinic_a, vault):
    with pytest.raises(ValidationFailed):
        find_by_whatsapp(session, clinic_a.system, vault=vault, bsuid="  ")


def test_another_clinics_bsuid_matches_nothing(session, clinic_a, clinic_b, vault):
    register(session, clinic_a.receptionist, vault, "Sunita", wa_bsuid="IN.sunita")
    assert find_by_whatsapp(session, clinic_b.system, vault=vault, bsuid="IN.sunita") == []
