"""Bulk patient import: the rules of ``register_patient`` for thousands of rows at once.

Every row is validated before anything is written, so a bad row rejects the whole batch and
leaves the registry unchanged. Codes come from one counter update (a contiguous block), rows
go in with one executemany insert, and one audit entry records the import.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from core import audit
from core.auth.permissions import require
from core.context import Actor, tenant_of
from core.errors import ValidationFailed
from core.patients.consent import ConsentGrant, check_grants
from core.patients.phones import PhoneVault, SealedPhone, mask_phone, normalise_phone
from core.patients.registry import CODE_PREFIX, DUPLICATE_THRESHOLD, DuplicateWarning
from core.patients.rules import check_minor, check_relations
from core.patients.validation import age_of, clean_fields, name_key, name_similarity
from core.patients.views import PatientSummary, summarise, tenant_today
from core.sequences import reserve_values
from db.models import Consent, Patient

MAX_ROWS = 20_000


@dataclass(frozen=True)
class PatientRow:
    """One patient to import: the fields ``register_patient`` takes (no WhatsApp id)."""

    full_name: str
    phone: str | None = None
    date_of_birth: dt.date | None = None
    age_years: int | None = None
    gender: str | None = None
    address: str | None = None
    blood_group: str | None = None
    email: str | None = None
    guardian_patient_id: int | None = None
    guardian_relation: str | None = None
    preferred_language: str = "en"
    consents: Sequence[ConsentGrant] = ()


@dataclass(frozen=True)
class ImportedPatients:
    """The new patients' ids in row order, and duplicate warnings by row index."""

    ids: tuple[int, ...]
    duplicates: dict[int, tuple[DuplicateWarning, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class _Clean:
    values: dict[str, Any]
    phone: str | None  # E.164
    sealed: SealedPhone | None
    grants: tuple[ConsentGrant, ...]


def import_patients(
    session: Session, actor: Actor, *, vault: PhoneVault, rows: Sequence[PatientRow]
) -> ImportedPatients:
    """Register ``rows`` under consecutive ``PATnnnn`` codes; warn about likely duplicates.

    Takes the tenant's ``patient_code`` counter row lock (held until the caller commits).
    A ``ValidationFailed`` names the first bad row in ``details["row"]``.
    """
    require(actor, "patient.write")
    tenant_id = tenant_of(session, actor)
    if len(rows) > MAX_ROWS:
        raise ValidationFailed(f"Import at most {MAX_ROWS} patients at a time", field="rows")
    today = tenant_today(session, actor, tenant_id)
    clean = [_checked(session, tenant_id, vault, row, today, n) for n, row in enumerate(rows)]
    existing = _same_phones(session, tenant_id, {c.sealed.lookup_hash for c in clean if c.sealed})
    numbers = reserve_values(session, tenant_id, "patient_code", len(clean))
    records = [_record(tenant_id, actor, c, n) for c, n in zip(clean, numbers, strict=True)]
    ids = _insert(session, Patient, records)
    _insert_consents(session, actor, tenant_id, ids, clean)
    duplicates = _duplicates(existing, vault, today, ids, clean, records)
    audit.record(
        session,
        actor,
        "patient.import",
        entity="patient",
        detail={
            "count": len(ids),
            "codes": [records[0]["code"], records[-1]["code"]] if records else [],
            "duplicate_warnings": sum(len(w) for w in duplicates.values()),
        },
    )
    return ImportedPatients(tuple(ids), duplicates)


def _checked(
    session: Session,
    tenant_id: int,
    vault: PhoneVault,
    row: PatientRow,
    today: dt.date,
    index: int,
) -> _Clean:
    try:
        values = clean_fields(_fields(row), today=today)
        phone = normalise_phone(row.phone) if row.phone and row.phone.strip() else None
        grants = check_grants(row.consents)
        check_relations(session, tenant_id, values, today, patient_id=None)
        by_guardian = any(g.by_guardian and g.granted for g in grants)
        check_minor(values, today, guardian_consent=by_guardian)
    except ValidationFailed as exc:
        raise ValidationFailed(f"Row {index + 1}: {exc}", field=exc.field, row=index) from exc
    return _Clean(values, phone, vault.seal(phone) if phone else None, grants)


def _fields(row: PatientRow) -> dict[str, Any]:
    return {
        "full_name": row.full_name,
        "date_of_birth": row.date_of_birth,
        "age_years": row.age_years,
        "gender": row.gender,
        "address": row.address,
        "blood_group": row.blood_group,
        "email": row.email,
        "guardian_patient_id": row.guardian_patient_id,
        "guardian_relation": row.guardian_relation,
        "preferred_language": row.preferred_language,
    }


def _record(tenant_id: int, actor: Actor, clean: _Clean, number: int) -> dict[str, Any]:
    sealed = clean.sealed
    return {
        **clean.values,
        "tenant_id": tenant_id,
        "code": f"{CODE_PREFIX}{number:04d}",
        "registered_by": actor.user_id,
        "name_key": name_key(clean.values["full_name"]),
        "phone_cipher": sealed.cipher if sealed else None,
        "phone_hash": sealed.lookup_hash if sealed else None,
        "phone_last4": sealed.last4 if sealed else None,
    }


def _insert(session: Session, model: type[Patient], records: list[dict[str, Any]]) -> list[int]:
    if not records:
        return []
    statement = insert(model).returning(model.id, sort_by_parameter_order=True)
    return list(session.scalars(statement, records))


def _insert_consents(
    session: Session, actor: Actor, tenant_id: int, ids: list[int], clean: list[_Clean]
) -> None:
    rows = [
        {
            "tenant_id": tenant_id,
            "patient_id": patient_id,
            "purpose": grant.purpose,
            "granted": grant.granted,
            "method": grant.stored_method,
            "recorded_by": actor.user_id,
            "given_by_guardian_id": c.values["guardian_patient_id"] if grant.by_guardian else None,
        }
        for patient_id, c in zip(ids, clean, strict=True)
        for grant in c.grants
    ]
    if rows:
        session.execute(insert(Consent), rows)


def _duplicates(
    existing: list[Patient],
    vault: PhoneVault,
    today: dt.date,
    ids: list[int],
    clean: list[_Clean],
    records: list[dict[str, Any]],
) -> dict[int, tuple[DuplicateWarning, ...]]:
    """Compare each phone's names with patients registered before it (earlier rows too)."""
    seen: dict[str, list[tuple[str, PatientSummary]]] = defaultdict(list)
    for patient in existing:
        seen[str(patient.phone_hash)].append(
            (patient.name_key, summarise(patient, vault=vault, today=today))
        )
    warnings: dict[int, tuple[DuplicateWarning, ...]] = {}
    for index, (patient_id, c, record) in enumerate(zip(ids, clean, records, strict=True)):
        if c.sealed is None:
            continue
        earlier = seen[c.sealed.lookup_hash]
        found = tuple(
            DuplicateWarning(summary, round(score, 3))
            for key, summary in earlier
            if (score := name_similarity(record["name_key"], key)) >= DUPLICATE_THRESHOLD
        )
        if found:
            warnings[index] = found
        earlier.append((record["name_key"], _summary(patient_id, c, record, today)))
    return warnings


def _same_phones(session: Session, tenant_id: int, hashes: set[str]) -> list[Patient]:
    """Return the live patients already holding one of these phones."""
    if not hashes:
        return []
    query = (
        select(Patient)
        .where(
            Patient.tenant_id == tenant_id,
            Patient.phone_hash.in_(sorted(hashes)),
            Patient.erased_at.is_(None),
        )
        .order_by(Patient.id)
    )
    return list(session.scalars(query))


def _summary(patient_id: int, c: _Clean, record: dict[str, Any], today: dt.date) -> PatientSummary:
    return PatientSummary(
        id=patient_id,
        code=record["code"],
        full_name=record["full_name"],
        age=age_of(c.values["date_of_birth"], c.values["age_years"], today, today),
        gender=c.values["gender"],
        masked_phone=mask_phone(c.phone) if c.phone else None,
    )
