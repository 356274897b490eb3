"""The seed's bulk registration (core's import_patients, used by the demo and the desk bench)
gives the same registry as registering each profile through register_patient: codes in order,
fields, encrypted phones, guardians, consents, allergies and conditions. SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import random

from sqlalchemy import select

from core.context import Actor
from core.patients import PhoneVault
from db.models import Consent, Patient, PatientAllergy, PatientCondition
from qlink.seed.patients import generate_profiles, import_profiles, register_profiles
from tests.support import make_clinic

TODAY = dt.date(2026, 12, 7)
COUNT = 150
VAULT = PhoneVault("test-key")


def registry(session, tenant_id):
    patients = session.scalars(
        select(Patient).where(Patient.tenant_id == tenant_id).order_by(Patient.id)
    ).all()
    code_of = {p.id: p.code for p in patients}
    rows = [
        (
            p.code, p.full_name, p.date_of_birth, p.age_years, p.gender, p.address,
            p.blood_group, p.email, p.preferred_language, p.phone_hash, p.phone_last4,
            VAULT.decrypt(p.phone_cipher), code_of.get(p.guardian_patient_id),
            p.guardian_relation, p.name_key,
        )
        for p in patients
    ]  # fmt: skip
    consents = sorted(
        (code_of[c.patient_id], c.purpose, c.granted, code_of.get(c.given_by_guardian_id), c.method)
        for c in session.scalars(select(Consent).where(Consent.tenant_id == tenant_id))
    )
    facts = sorted(
        (type(f).__name__, code_of[f.patient_id], getattr(f, "name", None) or f.substance)
        for model in (PatientAllergy, PatientCondition)
        for f in session.scalars(select(model).where(model.tenant_id == tenant_id))
    )
    return rows, consents, facts


def test_bulk_import_registers_the_same_patients_as_one_by_one(session):
    seen = []
    for register in (register_profiles, import_profiles):
        clinic = make_clinic(session)
        actor = Actor.system(clinic.tenant_id)
        rng = random.Random(7)
        profiles = generate_profiles(rng, COUNT, TODAY)
        assert any(p.guardian is not None for p in profiles)  # children with guardians
        patients = register(session, actor, VAULT, profiles, rng, 90)
        assert len(patients) == COUNT
        seen.append((registry(session, clinic.tenant_id), [(p.weight, p.joined) for p in patients]))
    (one_by_one, draws_a), (bulk, draws_b) = seen
    assert one_by_one == bulk
    assert draws_a == draws_b  # the history simulation draws the same after either
    assert len(one_by_one[0]) == COUNT and one_by_one[2]
