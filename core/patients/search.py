"""One search box for patients: by code, full phone, last four digits or partial name.

Names match tolerantly: a spelling variant ("Kavita" for "Kavitha", see ``spelling``) on both
backends, and on PostgreSQL also a near miss ("Kavtha") by trigram word similarity over the
folded key (``pg_trgm``, GIN index from migration 0005). Exact and prefix matches rank first.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from sqlalchemy import ColumnElement, Select, case, func, or_, select
from sqlalchemy.orm import Session

from core import audit
from core.auth.permissions import require
from core.context import Actor, tenant_of
from core.errors import ValidationFailed
from core.patients.phones import PhoneVault, normalise_phone
from core.patients.spelling import fold_name, fold_name_sql
from core.patients.validation import name_key
from core.patients.views import PatientSummary, summarise, tenant_today
from db.models import Patient

__all__ = ["PatientSummary", "QueryKind", "classify", "search_patients"]

QueryKind = Literal["empty", "code", "phone", "last4", "digits", "name"]
MAX_LIMIT = 100
_CODE = re.compile(r"^PAT\d+$", re.IGNORECASE)
_PHONE_CHARS = re.compile(r"^\+?[\d\s().-]+$")
_MIN_PHONE_DIGITS = 7
MIN_TOLERANT = 3  # shorter entries match literally: one or two letters are in most names


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
    postgres = session.connection().dialect.name == "postgresql"
    statement = _statement(kind, query.strip(), vault, postgres=postgres)
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


def _statement(
    kind: QueryKind, text: str, vault: PhoneVault, *, postgres: bool
) -> Select[Patient] | None:
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
        return _by_name(name_key(text), postgres=postgres)
    return None


def _by_phone(text: str, vault: PhoneVault) -> Select[Patient] | None:
    try:
        e164 = normalise_phone(text)
    except ValidationFailed:
        return None
    return select(Patient).where(Patient.phone_hash == vault.lookup_hash(e164)).order_by(Patient.id)


def _by_name(key: str, *, postgres: bool) -> Select[Patient]:
    if len(key) < MIN_TOLERANT:
        # One or two letters: names or words that start with them (every name contains an
        # "a"; ranking all of them costs a scan and a sort of the whole clinic).
        starts = or_(
            Patient.name_key.startswith(key, autoescape=True),
            Patient.name_key.contains(" " + key, autoescape=True),
        )
        return select(Patient).where(starts).order_by(_rank(key), Patient.name_key, Patient.id)
    fold, folded = fold_name(key), fold_name_sql(Patient.name_key)
    if len(fold) < MIN_TOLERANT:  # "sha" folds to "sa": too short to say anything tolerant
        return (
            select(Patient).where(_literal(key)).order_by(_rank(key), Patient.name_key, Patient.id)
        )
    matches = [_literal(key), folded.contains(fold, autoescape=True)]
    order: list[ColumnElement[Any]] = [_rank(key, fold, folded)]
    if postgres:
        # Word similarity: the query against the best-matching stretch of the name, so a
        # first name alone still scores high; ``%>`` is answerable from the GIN index.
        matches.append(folded.op("%>")(fold))
        order.append(func.word_similarity(fold, folded).desc())
    return select(Patient).where(or_(*matches)).order_by(*order, Patient.name_key, Patient.id)


def _literal(key: str) -> ColumnElement[bool]:
    return Patient.name_key.contains(key, autoescape=True)


def _rank(
    key: str, fold: str | None = None, folded: ColumnElement[str] | None = None
) -> ColumnElement[int]:
    # Exact name, whole-name prefix, a word starting with the query, anywhere in the name; then
    # the same for the spelling-folded key; near misses (PostgreSQL only) last.
    tiers = [
        Patient.name_key == key,
        Patient.name_key.startswith(key, autoescape=True),
        Patient.name_key.contains(" " + key, autoescape=True),
        _literal(key),
    ]
    if fold is not None and folded is not None:
        tiers += [
            folded.startswith(fold, autoescape=True),
            folded.contains(" " + fold, autoescape=True),
            folded.contains(fold, autoescape=True),
        ]
    return case(*((tier, n) for n, tier in enumerate(tiers)), else_=len(tiers))
