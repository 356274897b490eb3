"""The clinic's formulary and each doctor's favourite prescriptions, for the builder.

The formulary is per clinic (admins and doctors add to it); a search matches the start of any
word of the name, so "ibu" finds "Ibuprofen". A favourite is a doctor's named set of lines,
validated like a prescription when saved and again when used.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core import audit
from core.auth.permissions import can, require
from core.clinical.medicines import (
    MAX_LINES,
    MedicineLine,
    check_pattern,
    checked_line,
)
from core.context import Actor, load_owned, tenant_of
from core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from db.models import FormularyMedicine, PrescriptionFavourite

EDITORS = ("settings.write", "prescription.write")


@dataclass(frozen=True)
class FormularySpec:
    """A medicine for the formulary with the line the builder pre-fills."""

    name: str
    strength: str | None = None
    form: str | None = None
    default_pattern: str | None = None
    default_timing: str | None = None
    default_days: int | None = None


@dataclass(frozen=True)
class Favourite:
    id: int
    name: str
    lines: tuple[MedicineLine, ...]


def add_formulary_medicine(
    session: Session, actor: Actor, *, spec: FormularySpec
) -> FormularyMedicine:
    """Add a medicine to the clinic's formulary (``Conflict`` if it is listed already)."""
    if not any(can(actor, p) for p in EDITORS):
        raise PermissionDenied(f"Your role ({actor.role}) may not edit the formulary")
    tenant_id = tenant_of(session, actor)
    line = MedicineLine(
        spec.name,
        spec.default_pattern or "1-0-0",
        strength=spec.strength,
        timing=spec.default_timing,
        duration_days=spec.default_days,
    )
    values = checked_line(line, 1)  # same limits as a prescription line
    row = FormularyMedicine(
        tenant_id=tenant_id,
        name=values["medicine"],
        strength=values["strength"],
        form=(spec.form or "").strip()[:30] or None,
        name_key=_key(values["medicine"], values["strength"]),
        default_pattern=check_pattern(spec.default_pattern) if spec.default_pattern else None,
        default_timing=values["timing"],
        default_days=values["duration_days"],
        active=True,
        created_at=actor.clock(),
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        raise Conflict(f"{row.name} {row.strength or ''} is already in the formulary") from None
    audit.record(session, actor, "formulary.add", entity="formulary", entity_id=row.id)
    return row


def search_formulary(
    session: Session, actor: Actor, query: str, *, limit: int = 15
) -> list[MedicineLine]:
    """Medicines whose name has a word starting with ``query``, as pre-filled lines."""
    require(actor, "prescription.write")
    tenant_id = tenant_of(session, actor)
    text = (query or "").strip().casefold()
    if not text:
        raise ValidationFailed("Type part of a medicine's name", field="query")
    rows = session.scalars(
        select(FormularyMedicine)
        .where(FormularyMedicine.tenant_id == tenant_id, FormularyMedicine.active.is_(True))
        .where(
            or_(
                FormularyMedicine.name_key.startswith(text, autoescape=True),
                FormularyMedicine.name_key.contains(f" {text}", autoescape=True),
            )
        )
        .order_by(FormularyMedicine.name_key)
        .limit(max(1, min(limit, 50)))
    )
    return [
        MedicineLine(
            r.name,
            r.default_pattern or "",
            strength=r.strength,
            timing=r.default_timing,
            duration_days=r.default_days,
        )
        for r in rows
    ]


def save_favourite(
    session: Session, actor: Actor, *, name: str, lines: Sequence[MedicineLine]
) -> Favourite:
    """Save (or replace) the doctor's favourite set of lines under ``name``."""
    require(actor, "prescription.write")
    tenant_id = tenant_of(session, actor)
    if actor.doctor_id is None:
        raise PermissionDenied("Only a doctor's account keeps favourites")
    label = (name or "").strip()
    if not label or len(label) > 120:
        raise ValidationFailed("A favourite's name is 1 to 120 characters", field="name")
    if not lines or len(lines) > MAX_LINES:
        raise ValidationFailed(f"A favourite has 1 to {MAX_LINES} medicines", field="lines")
    for i, line in enumerate(lines, start=1):
        checked_line(line, i)
    row = session.scalar(
        select(PrescriptionFavourite).where(
            PrescriptionFavourite.tenant_id == tenant_id,
            PrescriptionFavourite.doctor_id == actor.doctor_id,
            PrescriptionFavourite.name == label,
        )
    )
    if row is None:
        row = PrescriptionFavourite(
            tenant_id=tenant_id, doctor_id=actor.doctor_id, name=label, created_at=actor.clock()
        )
        session.add(row)
    row.items = [asdict(line) for line in lines]
    session.flush()
    return Favourite(row.id, row.name, tuple(lines))


def list_favourites(session: Session, actor: Actor) -> list[Favourite]:
    """The acting doctor's favourites by name."""
    require(actor, "prescription.write")
    tenant_id = tenant_of(session, actor)
    rows = session.scalars(
        select(PrescriptionFavourite)
        .where(PrescriptionFavourite.tenant_id == tenant_id)
        .where(PrescriptionFavourite.doctor_id == actor.doctor_id)
        .order_by(PrescriptionFavourite.name)
    )
    return [_favourite(r) for r in rows]


def favourite_lines(session: Session, actor: Actor, favourite_id: int) -> list[MedicineLine]:
    """The lines of one of the acting doctor's favourites (``NotFound`` for anyone else's)."""
    require(actor, "prescription.write")
    row = load_owned(session, actor, PrescriptionFavourite, favourite_id, "Favourite")
    if row.doctor_id != actor.doctor_id:
        raise NotFound("Favourite not found")
    return list(_favourite(row).lines)


def _favourite(row: PrescriptionFavourite) -> Favourite:
    return Favourite(row.id, row.name, tuple(MedicineLine(**item) for item in row.items))


def _key(name: str, strength: str | None) -> str:
    return f"{name} {strength or ''}".strip().casefold()
