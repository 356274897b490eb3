"""Partner API keys and partner bookings in core: hashed, revocable, one clinic, idempotent."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from sqlalchemy import select

from core.clock import FrozenClock
from core.errors import (
    AuthenticationFailed,
    Conflict,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from core.partners.bookings import (
    BookingAsk,
    PatientDetails,
    book_for_partner,
    cancel_partner_booking,
    partner_availability,
    partner_booking,
    reschedule_partner_booking,
)
from core.partners.keys import (
    add_origin,
    authenticate_key,
    clean_origin,
    create_api_client,
    list_api_clients,
    list_origins,
    origin_known,
    parse_key,
    partner_actor,
    revoke_api_client,
)
from core.patients.phones import PhoneVault
from db.models import ApiClient, AuditEntry
from tests.support import add_doctor, local

MONDAY = dt.date(2026, 12, 7)
NOW = dt.datetime(2026, 12, 6, 6, 0, tzinfo=dt.UTC)
VAULT = PhoneVault("test-key")


def partner(session, clinic, name="City website"):
    new = create_api_client(session, clinic.admin, name=name)
    client = authenticate_key(session, parse_key(new.key))
    return client, partner_actor(client, clock=FrozenClock(NOW))


def ask(client, doctor, slot, key="k-1", body="b" * 64, phone="9812345678", name="Meena Iyer"):
    return BookingAsk(
        client_id=client.id,
        idempotency_key=key,
        body_sha256=body,
        doctor_id=doctor.id,
        slot_start=slot,
        patient=PatientDetails(name, phone, 34),
    )


def test_key_is_shown_once_stored_hashed_and_authenticates(session, clinic_a):
    new = create_api_client(session, clinic_a.admin, name="City website")
    row = session.get(ApiClient, new.client_id)
    secret = new.key.rsplit("_", 1)[1]
    assert secret not in row.secret_hash and len(row.secret_hash) == 64
    assert authenticate_key(session, parse_key(new.key)).id == new.client_id
    assert [c.name for c in list_api_clients(session, clinic_a.admin)] == ["City website"]
    actions = session.scalars(select(AuditEntry.action).where(AuditEntry.entity == "api_client"))
    assert "api_client.create" in set(actions)


def test_tampered_foreign_or_revoked_keys_fail(session, clinic_a, clinic_b):
    new = create_api_client(session, clinic_a.admin, name="Partner")
    other = create_api_client(session, clinic_b.admin, name="Partner B")
    wrong_secret = new.key[:-4] + ("AAAA" if not new.key.endswith("AAAA") else "BBBB")
    # clinic B's tenant id with clinic A's client id and secret
    swapped = f"qlk_{clinic_b.tenant_id}_{new.client_id}_{new.key.rsplit('_', 1)[1]}"
    for bad in (wrong_secret, swapped, "qlk_1_2_short", "", "Bearer x"):
        with pytest.raises(AuthenticationFailed):
            authenticate_key(session, parse_key(bad))
    assert authenticate_key(session, parse_key(other.key)).tenant_id == clinic_b.tenant_id
    revoke_api_client(session, clinic_a.admin, client_id=new.client_id)
    with pytest.raises(AuthenticationFailed, match="revoked"):
        authenticate_key(session, parse_key(new.key))
    with pytest.raises(Conflict):
        revoke_api_client(session, clinic_a.admin, client_id=new.client_id)


def test_another_clinic_cannot_revoke_and_receptionist_cannot_create(session, clinic_a, clinic_b):
    new = create_api_client(session, clinic_a.admin, name="Partner")
    with pytest.raises(NotFound):
        revoke_api_client(session, clinic_b.admin, client_id=new.client_id)
    with pytest.raises(PermissionDenied):
        create_api_client(session, clinic_a.receptionist, name="x")


def test_origins_are_normalised_per_clinic(session, clinic_a, clinic_b):
    assert add_origin(session, clinic_a.admin, origin="HTTPS://Www.CityCare.in/") == (
        "https://www.citycare.in"
    )
    assert list_origins(session, clinic_a.admin) == ["https://www.citycare.in"]
    assert list_origins(session, clinic_b.admin) == []
    assert origin_known(session, "https://www.citycare.in")
    for bad in ("www.citycare.in", "https://x.in/path", "ftp://x.in", "https://x.in?q=1"):
        with pytest.raises(ValidationFailed):
            clean_origin(bad)


def test_partner_books_replays_the_same_key_and_refuses_another_body(session, clinic_a):
    doctor = add_doctor(session, clinic_a)
    client, actor = partner(session, clinic_a)
    slot = local(clinic_a, MONDAY, 10)
    first, replayed = book_for_partner(session, actor, ask=ask(client, doctor, slot), vault=VAULT)
    assert not replayed and first.status == "scheduled" and first.doctor_name == doctor.full_name
    again, replayed = book_for_partner(session, actor, ask=ask(client, doctor, slot), vault=VAULT)
    assert replayed and again.appointment_id == first.appointment_id
    with pytest.raises(Conflict):
        book_for_partner(session, actor, ask=ask(client, doctor, slot, body="c" * 64), vault=VAULT)
    labels = [
        s.label
        for s in partner_availability(
            session, actor, doctor_id=doctor.id, on_date=MONDAY, branch_id=clinic_a.branch.id
        )
    ]
    assert "10:00" not in labels and "10:30" in labels


def test_partner_reads_cancels_and_reschedules_only_its_own_bookings(session, clinic_a, clinic_b):
    doctor = add_doctor(session, clinic_a)
    client, actor = partner(session, clinic_a)
    other, other_actor = partner(session, clinic_a, "Another partner")
    made, _ = book_for_partner(
        session, actor, ask=ask(client, doctor, local(clinic_a, MONDAY, 10)), vault=VAULT
    )
    ident = made.appointment_id
    with pytest.raises(NotFound):
        partner_booking(session, other_actor, client_id=other.id, appointment_id=ident)
    moved = reschedule_partner_booking(
        session,
        actor,
        client_id=client.id,
        appointment_id=ident,
        new_slot_start=local(clinic_a, MONDAY, 11),
    )
    assert partner_booking(session, actor, client_id=client.id, appointment_id=ident).status == (
        "cancelled"
    )
    done = cancel_partner_booking(
        session, actor, client_id=client.id, appointment_id=moved.appointment_id, reason="unwell"
    )
    assert done.status == "cancelled" and done.cancel_reason == "unwell"


def test_partner_of_clinic_a_cannot_see_or_book_clinic_b(session, clinic_a, clinic_b):
    doctor_b = add_doctor(session, clinic_b)
    client_b, actor_b = partner(session, clinic_b)
    made, _ = book_for_partner(
        session, actor_b, ask=ask(client_b, doctor_b, local(clinic_b, MONDAY, 10)), vault=VAULT
    )
    client_a, actor_a = partner(session, clinic_a)
    with pytest.raises(NotFound):
        partner_booking(session, actor_a, client_id=client_a.id, appointment_id=made.appointment_id)
    with pytest.raises(NotFound):
        book_for_partner(
            session,
            actor_a,
            ask=ask(client_a, doctor_b, local(clinic_b, MONDAY, 11)),
            vault=VAULT,
        )
    with pytest.raises(NotFound):
        partner_availability(
            session, actor_a, doctor_id=doctor_b.id, on_date=MONDAY, branch_id=clinic_b.branch.id
        )


def test_partner_actor_is_no_staff_role(session, clinic_a):
    _client, actor = partner(session, clinic_a)
    assert dataclasses.replace(actor).role == "partner_api" and actor.user_id is None
