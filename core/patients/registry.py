"""Register, update and load patients; every path is tenant-scoped, permission-checked, audited."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypedDict, Unpack

from sqlalchemy.orm import Session

from core import audit
from core.auth.permissions import require
from core.context import Actor, tenant_of
from core.patients.consent import (
    ConsentGrant,
    append_consents,
    check_grants,
    has_guardian_consent,
)
from core.patients.phones import PhoneVault, SealedPhone, normalise_phone
from core.patients.rules import check_minor, check_relations
from core.patients.validation import (
    clean_fields,
    name_key,
    name_similarity,
    years_between,
)
from core.patients.views import (
    PatientSummary,
    by_phone_hash,
    load_patient,
    summarise,
    tenant_today,
)
from core.sequences import next_value, reserve_values
from db.models import Patient
from db.staging import stage, staged

CODE_PREFIX = "PAT"
LATE_PREFIX = "~"  # a late code's placeholder until the transaction commits
CODE_STAGE = "patient_code"
_MINOR_FIELDS = {"date_of_birth", "age_years", "guardian_patient_id", "guardian_relation"}
DUPLICATE_THRESHOLD = 0.8


@dataclass(frozen=True)
class DuplicateWarning:
    """An existing patient with the same phone and a similar name."""

    patient: PatientSummary
    similarity: float


@dataclass(frozen=True)
class RegisteredPatient:
    """The new patient plus possible duplicates for the desk to review."""

    patient: Patient
    duplicates: tuple[DuplicateWarning, ...] = ()


class PatientChanges(TypedDict, total=False):
    """Fields ``update_patient`` may change; a key that is absent stays as it is.

    ``age_years`` is the age stated today; ``phone=None`` removes the number.
    """

    full_name: str
    phone: str | None
    date_of_birth: dt.date | None
    age_years: int | None
    gender: str | None
    address: str | None
    blood_group: str | None
    email: str | None
    guardian_patient_id: int | None
    guardian_relation: str | None
    preferred_language: str
    wa_bsuid: str | None


def register_patient(
    session: Session,
    actor: Actor,
    *,
    vault: PhoneVault,
    full_name: str,
    phone: str | None = None,
    date_of_birth: dt.date | None = None,
    age_years: int | None = None,
    gender: str | None = None,
    address: str | None = None,
    blood_group: str | None = None,
    email: str | None = None,
    guardian_patient_id: int | None = None,
    guardian_relation: str | None = None,
    preferred_language: str = "en",
    wa_bsuid: str | None = None,
    consents: Iterable[ConsentGrant] = (),
    late_code: bool = False,
) -> RegisteredPatient:
    """Register a patient under the next ``PATnnnn`` code; warn about likely duplicates.

    Takes the tenant's ``patient_code`` counter row lock, held until the caller commits. With
    ``late_code`` the number is taken just before commit instead (``db.staging``), so a long
    transaction (a web booking) does not hold the tenant's registrations up meanwhile; until
    then ``patient.code`` is a placeholder (``~`` and hex), so only a caller that does not show
    or send the code inside the transaction may ask for it. Codes stay unique and gap-free.
    """
    require(actor, "patient.write")
    tenant_id = tenant_of(session, actor)
    today = tenant_today(session, actor, tenant_id)
    values = clean_fields(
        dict(
            full_name=full_name,
            date_of_birth=date_of_birth,
            age_years=age_years,
            gender=gender,
            address=address,
            blood_group=blood_group,
            email=email,
            guardian_patient_id=guardian_patient_id,
            guardian_relation=guardian_relation,
            preferred_language=preferred_language,
            wa_bsuid=wa_bsuid,
        ),
        today=today,
    )
    sealed = _seal(vault, phone)
    grants = check_grants(consents)
    check_relations(session, tenant_id, values, today, patient_id=None)
    check_minor(values, today, guardian_consent=any(g.by_guardian and g.granted for g in grants))
    duplicates = _duplicates(session, tenant_id, vault, sealed, values["full_name"], today)
    patient = _insert(session, actor, tenant_id, values, sealed, late_code=late_code)
    append_consents(
        session,
        actor,
        tenant_id=tenant_id,
        patient_id=patient.id,
        grants=grants,
        guardian_id=patient.guardian_patient_id,
    )
    session.flush()
    audit.record(
        session,
        actor,
        "patient.create",
        entity="patient",
        entity_id=patient.id,
        detail={
            "code": patient.code,
            "duplicate_warnings": len(duplicates),
            "consents": sorted(g.purpose for g in grants),
        },
    )
    return RegisteredPatient(patient, duplicates)


def update_patient(
    session: Session,
    actor: Actor,
    patient_id: int,
    *,
    vault: PhoneVault,
    **changes: Unpack[PatientChanges],
) -> Patient:
    """Change the given fields of a patient; the audit entry names fields, never values."""
    require(actor, "patient.write")
    tenant_id = tenant_of(session, actor)
    patient = load_patient(session, tenant_id, patient_id)
    today = tenant_today(session, actor, tenant_id)
    raw: dict[str, Any] = dict(changes)
    phone_given, phone = "phone" in raw, raw.pop("phone", None)
    values = _changed(patient, _as_registered(patient, clean_fields(raw, today=today), today))
    sealed = _seal(vault, phone)
    if phone_given and (sealed.lookup_hash if sealed else None) != patient.phone_hash:
        values["phone"] = sealed
    check_relations(session, tenant_id, values, today, patient_id=patient.id)
    if _MINOR_FIELDS & set(values):
        check_minor(
            {**_current(patient), **values},
            today,
            stated_on=patient.created_at.date(),
            guardian_consent=has_guardian_consent(session, tenant_id, patient.id),
        )
    if values:
        apply_changes(patient, values, now=actor.clock())
        session.flush()
        audit.record(
            session,
            actor,
            "patient.update",
            entity="patient",
            entity_id=patient.id,
            detail={"fields": sorted(values)},
        )
    return patient


def access_patient(session: Session, actor: Actor, patient_id: int) -> Patient:
    """Load a patient of the actor's clinic for reading, or raise ``NotFound``; audited."""
    require(actor, "patient.read")
    tenant_id = tenant_of(session, actor)
    patient = load_patient(session, tenant_id, patient_id)
    audit.record(session, actor, "patient.read", entity="patient", entity_id=patient.id)
    return patient


def _seal(vault: PhoneVault, phone: str | None) -> SealedPhone | None:
    if phone is None or not phone.strip():
        return None
    return vault.seal(normalise_phone(phone))


def _insert(
    session: Session,
    actor: Actor,
    tenant_id: int,
    values: dict[str, Any],
    sealed: SealedPhone | None,
    *,
    late_code: bool = False,
) -> Patient:
    if late_code:
        code = f"{LATE_PREFIX}{secrets.token_hex(8)}"  # unique placeholder until commit
    else:
        code = f"{CODE_PREFIX}{next_value(session, tenant_id, 'patient_code'):04d}"
    patient = Patient(
        tenant_id=tenant_id,
        code=code,
        registered_by=actor.user_id,
        name_key=name_key(values["full_name"]),
        **values,
    )
    _set_phone(patient, sealed)
    session.add(patient)
    session.flush()
    if late_code:
        stage(session, CODE_STAGE, patient, run=_assign_codes, order=10)
    return patient


def _assign_codes(session: Session, patients: list[Patient]) -> None:
    """Give late-coded patients their numbers (one counter update per tenant), before commit.

    Runs before the audit chain is appended, so their ``patient.create`` entries name the code.
    """
    by_tenant: dict[int, list[Patient]] = {}
    for patient in patients:
        by_tenant.setdefault(patient.tenant_id, []).append(patient)
    codes: dict[str, str] = {}
    for tenant_id in sorted(by_tenant):
        batch = by_tenant[tenant_id]
        numbers = reserve_values(session, tenant_id, "patient_code", len(batch))
        for patient, number in zip(batch, numbers, strict=True):
            codes[str(patient.id)] = patient.code = f"{CODE_PREFIX}{number:04d}"
    session.flush()
    for row in staged(session, audit.STAGE):
        if row["action"] == "patient.create" and row["entity_id"] in codes:
            row["detail"]["code"] = codes[row["entity_id"]]


def _duplicates(
    session: Session,
    tenant_id: int,
    vault: PhoneVault,
    sealed: SealedPhone | None,
    full_name: str,
    today: dt.date,
) -> tuple[DuplicateWarning, ...]:
    if sealed is None:
        return ()
    key = name_key(full_name)
    scored = (
        (p, name_similarity(key, p.name_key))
        for p in by_phone_hash(session, tenant_id, sealed.lookup_hash)
    )
    return tuple(
        DuplicateWarning(summarise(p, vault=vault, today=today), round(score, 3))
        for p, score in scored
        if score >= DUPLICATE_THRESHOLD
    )


def _as_registered(patient: Patient, values: dict[str, Any], today: dt.date) -> dict[str, Any]:
    # age_years is stored as the age on the registration day, so it keeps growing; an age
    # stated today is shifted back by the years since then.
    age = values.get("age_years")
    if age is not None:
        values["age_years"] = max(0, age - years_between(patient.created_at.date(), today))
    return values


def _current(patient: Patient) -> dict[str, Any]:
    return {
        "date_of_birth": patient.date_of_birth,
        "age_years": patient.age_years,
        "guardian_patient_id": patient.guardian_patient_id,
        "guardian_relation": patient.guardian_relation,
    }


def _changed(patient: Patient, values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if getattr(patient, k) != v}


def apply_changes(patient: Patient, values: dict[str, Any], *, now: dt.datetime) -> None:
    """Set cleaned values on a patient (``phone`` takes a ``SealedPhone``); caller audits."""
    for field, value in values.items():
        if field == "phone":
            _set_phone(patient, value)
        else:
            setattr(patient, field, value)
    if "full_name" in values:
        patient.name_key = name_key(values["full_name"])
    patient.updated_at = now


def _set_phone(patient: Patient, sealed: SealedPhone | None) -> None:
    patient.phone_cipher = sealed.cipher if sealed else None
    patient.phone_hash = sealed.lookup_hash if sealed else None
    patient.phone_last4 = sealed.last4 if sealed else None
