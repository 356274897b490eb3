"""One search box for patients: by code, full phone, last four digits or partial name."""

from __future__ import annotations

import re
from typing import Literal

from sqlalchemy import ColumnElement, Select, case, func, select
from sqlalchemy.orm import Session

from core import audit
from core.auth.permissions import require
from core.context import Actor, tenant_of
from core.errors import ValidationFailed
from core.patients.phones import PhoneVault, normalise_phone
from core.patients.views import PatientSummary, summarise, tenant_today
from db.models import Patient

__all__ = ["PatientSummary", "QueryKind", "classify", "search_patients"]

QueryKind = Literal["empty", "code", "phone", "last4", "digits", "name"]
MAX_LIMIT = 100
_CODE = re.compile(r"^PAT\d+$", re.IGNORECASE)
_PHONE_CHARS = re.compile(r"^\+?[\d\s().-]+$")
_MIN_PHONE_DIGITS = 7


def classify(query: str) -> QueryKind:
    """Tell what a search box entry is: a code, a phone, four digits, other digits or a name."""
    text = query.strip()
    if not text:
        return "empty"
    if _CODE.match(text):
        return "code"
    if _PHONE_CHARS.match(text):
        digits = sum(ch.isdigit() for ch in text)
        if digits == 4 and text.isdigit():
            return "last4"
        return "phone" if digits >= _MIN_PHONE_DIGITS else "digits"
    return "name"


def search_patients(
    session: Session,
    actor: Actor,
    *,
    vault: PhoneVault,
    query: str,
    limit: int = 20,
) -> list[PatientSummary]:
    """Find live patients of the actor's clinic matching ``query``; audited once per call.

    A partial phone (too few digits, or not a valid number) matches nothing rather than
    failing, so the box can search while the user is still typing. An empty or partial entry
    reads nothing and is not audited. The audit entry is a write: call inside a write
    transaction.
    """
    require(actor, "patient.search")
    tenant_id = tenant_of(session, actor)
    kind = classify(query)
    statement = _statement(kind, query.strip(), vault)
    if statement is None:
        return []
    base = statement.where(Patient.tenant_id == tenant_id, Patient.erased_at.is_(None))
    rows = list(session.scalars(base.limit(max(1, min(limit, MAX_LIMIT)))))
    audit.record(
        session,
        actor,
        "patient.search",
        entity="patient",
        detail={"kind": kind, "results": len(rows)},
    )
    today = tenant_today(session, actor, tenant_id)
    return [summarise(p, vault=vault, today=today) for p in rows]


def _statement(kind: QueryKind, text: str, vault: PhoneVault) -> Select[Patient] | None:
    if kind == "code":
        return (
            select(Patient)
            .where(Patient.code.startswith(text.upper(), autoescape=True))
            .order_by(func.length(Patient.code), Patient.code)  # PAT10000 after PAT9999
        )
    if kind == "phone":
        return _by_phone(text, vault)
    if kind == "last4":
        return select(Patient).where(Patient.phone_last4 == text).order_by(Patient.name_key)
    if kind == "name":
        return _by_name(" ".join(text.casefold().split()))
    return None


def _by_phone(text: str, vault: PhoneVault) -> Select[Patient] | None:
    try:
        e164 = normalise_phone(text)
    except ValidationFailed:
        return None
    return select(Patient).where(Patient.phone_hash == vault.lookup_hash(e164)).order_by(Patient.id)


def _by_name(key: str) -> Select[Patient]:
    # Whole-name prefix first, then a word starting with the query, then anywhere in the name.
    rank: ColumnElement[int] = case(
        (Patient.name_key.startswith(key, autoescape=True), 0),
        (Patient.name_key.contains(" " + key, autoescape=True), 1),
        else_=2,
    )
    return (
        select(Patient)
        .where(Patient.name_key.contains(key, autoescape=True))
        .order_by(rank, Patient.name_key, Patient.id)
    )
