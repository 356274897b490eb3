"""The billing page's parts: the open bill (lines, items, discount, payment) and the day's takings.

Every action is one core command in one transaction; the page keeps only ids and a version
number in session state, so a rerun re-reads the bill instead of trusting a stale copy.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st

from apps.common import auth
from apps.common.runtime import Runtime
from core.billing import bills, catalogue, payments, pdfs, sending, upi, views
from core.billing.money import format_inr, parse_rupees
from core.errors import DomainError

BILL = "qlink_billing_bill"  # (bill id, version): auth.forget() drops qlink_* keys
CACHE = "qlink_billing_cache"  # {(bill id, version): (view, bill pdf, receipt pdf, upi png)}
PAY_KEY = "qlink_billing_pay_key"  # idempotency key of the payment form on screen
MODES = {"Cash": "cash", "Card": "card", "UPI": "upi"}
STATUS = {"pending": "Unpaid", "partially_paid": "Partly paid", "paid": "Paid"}


def act(rt: Runtime, command: Callable[[Any, Any], object], done: str) -> bool:
    """Run one core command in a transaction; show the outcome; bump the bill's version."""
    staff = auth.recheck(rt, touch=True)
    try:
        with rt.db.transaction(staff.actor.tenant_id) as session:
            command(session, staff.actor)
    except DomainError as exc:
        st.error(exc.message)
        return False
    bill_id, version = st.session_state.get(BILL, (None, 0))
    st.session_state[BILL] = (bill_id, version + 1)
    st.toast(done)
    return True


def open_visit(rt: Runtime, token_id: int) -> None:
    staff = auth.current()
    try:
        with rt.db.transaction(staff.actor.tenant_id) as session:
            bill = bills.open_bill(session, staff.actor, token_id=token_id)
            st.session_state[BILL] = (bill.id, 0)
    except DomainError as exc:
        st.error(exc.message)


def loaded(rt: Runtime) -> tuple[views.BillView, bytes, bytes | None, bytes | None] | None:
    """The open bill with its PDFs, rendered once per change (each read is audited)."""
    key = st.session_state.get(BILL)
    if not key or key[0] is None:
        return None
    cache = st.session_state.setdefault(CACHE, {})
    if key not in cache:
        staff = auth.current()
        with rt.db.transaction(staff.actor.tenant_id) as session:
            view = views.bill_view(session, staff.actor, bill_id=key[0])
            bill_pdf = pdfs.bill_pdf(session, staff.actor, bill_id=key[0])
            last = view.payments[-1].id if view.payments else None
            receipt = pdfs.receipt_pdf(session, staff.actor, payment_id=last) if last else None
            qr = _upi_png(session, staff.actor, key[0])
        cache.clear()
        cache[key] = (view, bill_pdf, receipt, qr)
    return cache[key]  # type: ignore[no-any-return]


def _upi_png(session: Any, actor: Any, bill_id: int) -> bytes | None:
    try:
        link = upi.bill_upi_uri(session, actor, bill_id=bill_id)
    except DomainError:
        return None  # no UPI ID set for the clinic
    return upi.qr_png(link) if link else None


def lines_table(view: views.BillView) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Item": [line.description for line in view.lines],
            "Qty": [line.quantity for line in view.lines],
            "Rate": [format_inr(line.unit_price_minor) for line in view.lines],
            "Discount": [
                format_inr(line.discount_minor) if line.discount_minor else ""
                for line in view.lines
            ],
            "GST": [
                "Exempt" if line.gst_exempt else format_inr(line.tax_minor) for line in view.lines
            ],
            "Amount": [format_inr(line.amount_minor) for line in view.lines],
        }
    )


def items_form(rt: Runtime, view: views.BillView, items: list[Any]) -> None:
    pick, qty, add = st.columns([3, 1, 1], vertical_alignment="bottom")
    labels = {i.id: f"{i.name} · {format_inr(i.unit_price_minor)}" for i in items}
    chosen = pick.selectbox(
        "Add from catalogue", list(labels), format_func=labels.get, key="billing_item",
        index=None, placeholder="Procedure, test or medicine",
    )  # fmt: skip
    count = qty.number_input("Qty", min_value=1, max_value=999, value=1, key="billing_qty")
    if add.button("Add", key="billing_add", disabled=chosen is None, width="stretch"):
        act(rt, lambda s, a: bills.add_item(
            s, a, bill_id=view.id, catalogue_item_id=int(chosen), quantity=int(count)
        ), "Item added")  # fmt: skip
        st.rerun()
    line_labels = {line.id: line.description for line in view.lines}
    which, amount, apply, drop = st.columns([3, 1, 1, 1], vertical_alignment="bottom")
    line = which.selectbox(
        "Line", list(line_labels), format_func=line_labels.get, key="billing_line", index=None
    )
    off = amount.text_input("Discount ₹", key="billing_discount", placeholder="0")
    if apply.button("Discount", key="billing_apply_discount", disabled=line is None):
        try:
            minor = parse_rupees(off or "0", field="discount")
        except DomainError as exc:
            st.error(exc.message)
        else:
            act(rt, lambda s, a: bills.set_item_discount(
                s, a, bill_id=view.id, item_id=int(line), discount_minor=minor
            ), "Discount set")  # fmt: skip
            st.rerun()
    if drop.button("Remove", key="billing_remove", disabled=line is None):
        act(rt, lambda s, a: bills.remove_item(s, a, bill_id=view.id, item_id=int(line)), "Removed")
        st.rerun()


def payment_form(rt: Runtime, view: views.BillView) -> None:
    key = st.session_state.setdefault(PAY_KEY, uuid.uuid4().hex)
    chosen = st.radio("Mode", list(MODES), horizontal=True, key="billing_mode")
    amount, ref = st.columns(2)
    typed = amount.text_input(
        "Amount ₹", key="billing_amount", placeholder=f"{view.outstanding_minor / 100:.2f}"
    )
    reference = ref.text_input("Reference", key="billing_reference", placeholder="card / UPI")
    if st.button("Take payment", key="billing_pay", type="primary", width="stretch"):
        try:
            minor = parse_rupees(typed) if typed else view.outstanding_minor
        except DomainError as exc:
            st.error(exc.message)
            return
        if act(rt, lambda s, a: payments.record_payment(
            s, a, bill_id=view.id, mode=MODES[chosen or "Cash"], amount_minor=minor,
            reference=reference, idempotency_key=key,
        ), f"{format_inr(minor)} received"):  # fmt: skip
            st.session_state.pop(PAY_KEY, None)
            st.rerun()


def downloads(
    rt: Runtime, view: views.BillView, bill_pdf: bytes, receipt_pdf: bytes | None
) -> None:
    bill, receipt, send = st.columns(3)
    bill.download_button(
        "Bill PDF", bill_pdf, f"{view.number}.pdf", "application/pdf", key="billing_bill_pdf"
    )
    if receipt_pdf is None:
        return
    last = view.payments[-1].receipt_number
    receipt.download_button(
        f"Receipt {last}", receipt_pdf, f"{last}.pdf", "application/pdf",
        key="billing_receipt_pdf",
    )  # fmt: skip
    if send.button("WhatsApp receipt", key="billing_send"):
        send_receipt(rt, view)


def send_receipt(rt: Runtime, view: views.BillView) -> None:
    last = view.payments[-1]
    act(rt, lambda s, a: sending.send_receipt(s, a, payment_id=last.id), "Receipt queued")


def catalogue_items(rt: Runtime) -> list[Any]:
    staff = auth.current()
    with rt.db.transaction(staff.actor.tenant_id, readonly=True) as session:
        return list(catalogue.catalogue(session, staff.actor))


def collection(rt: Runtime) -> None:
    staff = auth.current()
    day = st.columns([1, 3])[0].date_input(
        "Day", key="billing_day", value=None, help="Leave empty for today"
    )
    try:
        with rt.db.transaction(staff.actor.tenant_id, readonly=True) as session:
            taken = views.daily_collection(session, staff.actor, day=day, branch_id=staff.branch_id)
    except DomainError as exc:
        st.error(exc.message)
        return
    cols = st.columns(4)
    cols[0].metric(f"Collected on {taken.day:%d %b}", format_inr(taken.total_minor))
    for col, (label, mode) in zip(cols[1:], MODES.items(), strict=True):
        col.metric(label, format_inr(taken.by_mode[mode]))
    st.caption(f"{taken.payments} payments")
    if taken.by_doctor:
        st.dataframe(
            pd.DataFrame(
                {
                    "Doctor": [name for name, _ in taken.by_doctor],
                    "Collected": [format_inr(total) for _, total in taken.by_doctor],
                }
            ),
            hide_index=True,
        )
