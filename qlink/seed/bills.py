"""Bills, items and payments of past visits, numbered from the tenant's own sequences.

Bill and receipt numbers are reserved in one step per kind (the counter row advances by the
number of rows imported), so live billing continues after the last imported number.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.orm import Session

from db.models import Bill, BillItem, Payment
from qlink.seed.catalog import PAYMENT_MODES, PROFILES
from qlink.seed.records import DoneVisit

BILL_SEQUENCE, BILL_FORMAT = "bill_number", "BL-{:06d}"
RECEIPT_SEQUENCE, RECEIPT_FORMAT = "receipt_number", "RC-{:06d}"
PARTIAL_RATE, PENDING_RATE = 0.04, 0.02
Row = dict[str, Any]
_CREATE = text(
    "INSERT INTO sequences (tenant_id, name, last_value) VALUES (:t, :n, 0) "
    "ON CONFLICT (tenant_id, name) DO NOTHING"
)
_ADVANCE = text(
    "UPDATE sequences SET last_value = last_value + :k "
    "WHERE tenant_id = :t AND name = :n RETURNING last_value"
)


@dataclass
class _Draft:
    visit: DoneVisit
    issued_at: dt.datetime
    items: list[Row]
    payments: list[Row] = field(default_factory=list)


def reserve_numbers(session: Session, tenant_id: int, name: str, count: int) -> int:
    """Advance the tenant's ``name`` counter by ``count``; return the first reserved number."""
    params = {"t": tenant_id, "n": name}
    session.execute(_CREATE, params)
    last = int(session.execute(_ADVANCE, {**params, "k": count}).scalar_one())
    return last - count + 1


def insert_bills(
    session: Session,
    tenant_id: int,
    branch_id: int,
    cashier_id: int,
    rng: random.Random,
    done: list[DoneVisit],
) -> int:
    """Bill every finished visit, take payments, and return the number of bills."""
    drafts = sorted((_draft(rng, d) for d in done), key=lambda b: b.issued_at)
    if not drafts:
        return 0
    first = reserve_numbers(session, tenant_id, BILL_SEQUENCE, len(drafts))
    rows = [_bill_row(tenant_id, branch_id, cashier_id, b, first + i) for i, b in enumerate(drafts)]
    stmt = insert(Bill).returning(Bill.id, sort_by_parameter_order=True)
    ids = list(session.scalars(stmt, rows))
    items = [
        {**item, "tenant_id": tenant_id, "bill_id": bid}
        for bid, b in zip(ids, drafts, strict=True)
        for item in b.items
    ]
    session.execute(insert(BillItem), items)
    _insert_payments(session, tenant_id, cashier_id, ids, drafts)
    return len(drafts)


def _draft(rng: random.Random, d: DoneVisit) -> _Draft:
    items = [
        _item("consultation", f"Consultation - {d.doctor_name}", d.fee_minor, 0, _discount(rng, d))
    ]
    for proc in PROFILES[d.dept].procedures:
        if rng.random() < proc.chance:
            items.append(_item(proc.kind, proc.name, proc.rupees * 100, proc.tax_bp, 0))
    issued = d.finished_at + dt.timedelta(minutes=rng.uniform(1, 6))
    draft = _Draft(d, issued, items)
    draft.payments = _payments(rng, issued, sum(i["amount_minor"] for i in items))
    return draft


def _discount(rng: random.Random, d: DoneVisit) -> int:
    senior = d.patient.age >= 60 and rng.random() < 0.5
    return d.fee_minor // 10 if senior else 0


def _item(kind: str, name: str, price: int, tax_bp: int, discount: int) -> Row:
    tax = (price - discount) * tax_bp // 10_000
    return {
        "kind": kind,
        "description": name,
        "quantity": 1,
        "unit_price_minor": price,
        "discount_minor": discount,
        "tax_rate_bp": tax_bp,
        "tax_minor": tax,
        "amount_minor": price - discount + tax,
    }


def _payments(rng: random.Random, issued: dt.datetime, total: int) -> list[Row]:
    roll = rng.random()
    if total == 0 or roll < PENDING_RATE:
        return []
    amounts = [total]
    if roll < PENDING_RATE + PARTIAL_RATE:
        amounts = [total // 2 // 100 * 100 or total]
    modes = [m for m, _ in PAYMENT_MODES]
    weights = [w for _, w in PAYMENT_MODES]
    return [
        {
            "mode": (mode := rng.choices(modes, weights)[0]),
            "amount_minor": amount,
            "reference": _reference(rng, mode),
            "received_at": issued + dt.timedelta(minutes=rng.uniform(0.5, 8)),
        }
        for amount in amounts
    ]


def _reference(rng: random.Random, mode: str) -> str | None:
    if mode == "upi":
        return f"UPI{rng.randrange(10**11, 10**12)}"
    if mode == "card":
        return f"CARD-XXXX{rng.randrange(1000, 10_000)}"
    return None


def _bill_row(tenant_id: int, branch_id: int, cashier_id: int, b: _Draft, number: int) -> Row:
    subtotal = sum(i["unit_price_minor"] * i["quantity"] for i in b.items)
    total = sum(i["amount_minor"] for i in b.items)
    paid = sum(p["amount_minor"] for p in b.payments)
    status = "paid" if paid >= total else ("partially_paid" if paid else "pending")
    return {
        "tenant_id": tenant_id,
        "number": BILL_FORMAT.format(number),
        "branch_id": branch_id,
        "patient_id": b.visit.patient_id,
        "doctor_id": b.visit.doctor_id,
        "appointment_id": b.visit.appointment_id,
        "consultation_id": b.visit.consultation_id,
        "status": status,
        "subtotal_minor": subtotal,
        "discount_minor": sum(i["discount_minor"] for i in b.items),
        "tax_minor": sum(i["tax_minor"] for i in b.items),
        "total_minor": total,
        "paid_minor": paid,
        "issued_by": cashier_id,
        "issued_at": b.issued_at,
        "created_at": b.issued_at,
    }


def _insert_payments(
    session: Session, tenant_id: int, cashier_id: int, ids: list[int], drafts: list[_Draft]
) -> None:
    rows = sorted(
        (
            {
                **p,
                "tenant_id": tenant_id,
                "bill_id": bid,
                "received_by": cashier_id,
                "created_at": p["received_at"],
            }
            for bid, b in zip(ids, drafts, strict=True)
            for p in b.payments
        ),
        key=lambda r: r["received_at"],
    )
    if not rows:
        return
    first = reserve_numbers(session, tenant_id, RECEIPT_SEQUENCE, len(rows))
    for i, row in enumerate(rows):
        row["receipt_number"] = RECEIPT_FORMAT.format(first + i)
    session.execute(insert(Payment), rows)
