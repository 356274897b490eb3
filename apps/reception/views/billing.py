"""Billing: open today's visit's bill, add items and discounts, take payments, print receipts."""

from __future__ import annotations

import streamlit as st

from apps.common import auth
from apps.common.runtime import runtime
from apps.reception import billing_panel as panel
from core.billing import views
from core.billing.money import format_inr
from core.errors import DomainError

rt = runtime()
staff = auth.current()

bill_tab, day_tab = st.tabs(["Bill a visit", "Today's collection"])

with bill_tab:
    try:
        with rt.db.transaction(staff.actor.tenant_id, readonly=True) as session:
            visits = views.todays_visits(session, staff.actor, branch_id=staff.branch_id or 0)
    except DomainError as exc:
        st.error(exc.message)
        st.stop()
    labels = {
        v.token_id: f"{v.token_code} · {v.patient_name} · {v.doctor_name or 'any doctor'}"
        f" · {panel.STATUS.get(v.bill_status or '', 'no bill yet')}"
        for v in visits
    }
    pick, go = st.columns([4, 1], vertical_alignment="bottom")
    token_id = pick.selectbox(
        "Today's visit", list(labels), format_func=labels.get, key="billing_visit", index=None,
        placeholder="Token, patient or doctor" if labels else "No visits today yet",
    )  # fmt: skip
    if go.button("Open bill", key="billing_open", disabled=token_id is None, type="primary"):
        panel.open_visit(rt, int(token_id))
    loaded = panel.loaded(rt)
    if loaded is not None:
        view, bill_pdf, receipt_pdf, upi_png = loaded
        lines, money = st.columns([3, 2], gap="medium")
        with lines:
            doctor = f" · {view.doctor_name}" if view.doctor_name else ""
            st.markdown(
                f"**Bill {view.number}** · {view.patient_name} ({view.patient_code}){doctor}"
            )
            if view.free_followup:
                st.info("Free follow-up: the consultation is not charged.")
            st.dataframe(panel.lines_table(view), hide_index=True, width="stretch")
            panel.items_form(rt, view, panel.catalogue_items(rt))
        with money:
            top, bottom = st.columns(2), st.columns(2)
            top[0].metric("Total", format_inr(view.total_minor))
            top[1].metric("Status", panel.STATUS.get(view.status, view.status))
            bottom[0].metric("Paid", format_inr(view.paid_minor))
            bottom[1].metric("Outstanding", format_inr(view.outstanding_minor))
            if view.outstanding_minor > 0:
                form, qr = st.columns([3, 2]) if upi_png else (st.container(), None)
                with form:
                    panel.payment_form(rt, view)
                if qr is not None:
                    qr.image(upi_png, caption="UPI: scan to pay", width=130)
            else:
                st.success(f"Paid in full. Receipt {view.payments[-1].receipt_number}.")
            panel.downloads(rt, view, bill_pdf, receipt_pdf)

with day_tab:
    panel.collection(rt)
