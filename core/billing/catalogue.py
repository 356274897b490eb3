"""The clinic's billing catalogue and billing settings (UPI payee, free follow-up per doctor)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core import audit
from core.auth.permissions import require
from core.billing.money import check_amount
from core.context import Actor, load_owned, tenant_of
from core.errors import Conflict, NotFound, ValidationFailed
from core.scheduling.doctors import access_doctor
from db.models import Tenant
from db.models.billing import CatalogueItem

KINDS = ("procedure", "test", "medicine", "other")
_CODE = re.compile(r"^[A-Z0-9][A-Z0-9-]{0,23}$")
_VPA = re.compile(r"^[A-Za-z0-9._-]{2,256}@[A-Za-z][A-Za-z0-9]{1,63}$")
MAX_FOLLOWUP_DAYS = 90
MAX_FOLLOWUP_VISITS = 5


@dataclass(frozen=True)
class BillingSettings:
    """Where UPI payments go: the clinic's VPA and the payee name printed with the QR."""

    upi_vpa: str | None
    payee_name: str
    gstin: str | None


def add_catalogue_item(
    session: Session,
    actor: Actor,
    *,
    code: str,
    name: str,
    kind: str,
    unit_price_minor: int,
    tax_rate_bp: int = 0,
    gst_exempt: bool = False,
) -> CatalogueItem:
    """Add a procedure, test or medicine the clinic bills; codes are unique per clinic."""
    require(actor, "settings.write")
    tenant_id = tenant_of(session, actor)
    code = code.strip().upper()
    _check_item(code, name, kind, unit_price_minor, tax_rate_bp, gst_exempt)
    item = CatalogueItem(
        tenant_id=tenant_id,
        code=code,
        name=name.strip(),
        kind=kind,
        unit_price_minor=unit_price_minor,
        tax_rate_bp=tax_rate_bp,
        gst_exempt=gst_exempt,
        active=True,
    )
    try:
        with session.begin_nested():
            session.add(item)
            session.flush()
    except IntegrityError as exc:
        raise Conflict(f"Catalogue code {code} is already used", field="code") from exc
    audit.record(session, actor, "catalogue.add", entity="catalogue_item", entity_id=item.id)
    return item


def access_catalogue_item(session: Session, actor: Actor, item_id: int) -> CatalogueItem:
    """Fetch a catalogue item of the actor's clinic, or raise ``NotFound``."""
    return load_owned(session, actor, CatalogueItem, item_id, "Catalogue item")


def set_item_active(session: Session, actor: Actor, *, item_id: int, active: bool) -> None:
    """Withdraw an item from (or return it to) the catalogue; old bills keep their lines."""
    require(actor, "settings.write")
    access_catalogue_item(session, actor, item_id).active = active
    session.flush()
    audit.record(
        session,
        actor,
        "catalogue.active",
        entity="catalogue_item",
        entity_id=item_id,
        detail={"active": active},
    )


def catalogue(
    session: Session, actor: Actor, *, include_inactive: bool = False
) -> list[CatalogueItem]:
    """List the clinic's catalogue by kind and name."""
    require(actor, "billing.read")
    query = select(CatalogueItem).where(CatalogueItem.tenant_id == tenant_of(session, actor))
    if not include_inactive:
        query = query.where(CatalogueItem.active.is_(True))
    return list(session.scalars(query.order_by(CatalogueItem.kind, CatalogueItem.name)))


def set_billing_settings(
    session: Session,
    actor: Actor,
    *,
    upi_vpa: str | None,
    payee_name: str | None = None,
    gstin: str | None = None,
) -> BillingSettings:
    """Set the clinic's UPI VPA (``name@bank``), payee name and GSTIN; other settings stay."""
    require(actor, "settings.write")
    tenant = _tenant(session, tenant_of(session, actor))
    vpa = (upi_vpa or "").strip() or None
    if vpa is not None and not _VPA.match(vpa):
        raise ValidationFailed("A UPI ID looks like clinic@bank", field="upi_vpa")
    values = {"upi_vpa": vpa, "upi_payee_name": (payee_name or "").strip() or None}
    values["gstin"] = (gstin or "").strip().upper() or None
    tenant.settings = {**(tenant.settings or {}), **values}
    session.flush()
    audit.record(session, actor, "billing_settings.set", entity="tenant", entity_id=tenant.id)
    return billing_settings(session, actor)


def billing_settings(session: Session, actor: Actor) -> BillingSettings:
    """Read the clinic's billing settings."""
    tenant = _tenant(session, tenant_of(session, actor))
    settings = tenant.settings or {}
    return BillingSettings(
        upi_vpa=settings.get("upi_vpa"),
        payee_name=settings.get("upi_payee_name") or tenant.name,
        gstin=settings.get("gstin"),
    )


def set_free_followup(
    session: Session, actor: Actor, *, doctor_id: int, days: int, visits: int
) -> None:
    """Set a doctor's free follow-up: ``visits`` free visits within ``days`` of a paid one."""
    require(actor, "settings.write")
    if not 0 <= days <= MAX_FOLLOWUP_DAYS:
        raise ValidationFailed(f"Days must be 0 to {MAX_FOLLOWUP_DAYS}", field="days")
    if not 0 <= visits <= MAX_FOLLOWUP_VISITS:
        raise ValidationFailed(f"Visits must be 0 to {MAX_FOLLOWUP_VISITS}", field="visits")
    doctor = access_doctor(session, actor, doctor_id)
    doctor.free_followup_days, doctor.free_followup_visits = days, visits
    session.flush()
    audit.record(
        session,
        actor,
        "doctor.free_followup",
        entity="doctor",
        entity_id=doctor_id,
        detail={"days": days, "visits": visits},
    )


def _tenant(session: Session, tenant_id: int) -> Tenant:
    tenant = session.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFound("Clinic not found")
    return tenant


def _check_item(code: str, name: str, kind: str, price: int, rate_bp: int, exempt: bool) -> None:
    if not _CODE.match(code):
        raise ValidationFailed("Code: letters, digits and '-', up to 24", field="code")
    if not name.strip() or len(name.strip()) > 200:
        raise ValidationFailed("Name is required (up to 200 characters)", field="name")
    if kind not in KINDS:
        raise ValidationFailed(f"Kind must be one of {', '.join(KINDS)}", field="kind")
    check_amount(price, field="unit_price_minor")
    if not 0 <= rate_bp <= 10000:
        raise ValidationFailed("Tax rate must be 0 to 100 %", field="tax_rate_bp")
    if exempt and rate_bp:
        raise ValidationFailed("A GST-exempt item carries no tax", field="tax_rate_bp")
