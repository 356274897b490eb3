"""Lab orders from the consultation: pick tests from the clinic's catalogue, send the patient."""

from __future__ import annotations

import streamlit as st

from apps.common.runtime import Runtime
from apps.reception.live_queues import act
from core.clinical.lab import order_tests
from core.clinical.lab_catalogue import CatalogueTest, lab_catalogue
from core.errors import DomainError

CATALOGUE = "qlink_doctor_lab_catalogue"


def catalogue(rt: Runtime) -> list[CatalogueTest]:
    """The clinic's tests (read once per session)."""
    if CATALOGUE not in st.session_state:
        staff = st.session_state["qlink_staff"]
        try:
            with rt.db.transaction(staff.actor.tenant_id, readonly=True) as session:
                st.session_state[CATALOGUE] = lab_catalogue(session, staff.actor)
        except DomainError as exc:
            st.error(exc.message)
            return []
    tests: list[CatalogueTest] = st.session_state[CATALOGUE]
    return tests


def orders(rt: Runtime, cid: int) -> None:
    """A popover to order tests; ordering sends the patient to the lab (token kept)."""
    tests = {t.id: t for t in catalogue(rt)}
    with st.popover(
        "Order lab tests", icon=":material/biotech:", disabled=not tests, width="stretch"
    ):
        picked = st.multiselect(
            "Tests",
            list(tests),
            format_func=lambda i: f"{tests[i].code} · {tests[i].name}",
            key=f"doc_lab_tests_{cid}",
        )
        urgent = st.checkbox("Urgent", key=f"doc_lab_urgent_{cid}")
        if st.button(
            "Order and send to lab", key=f"doc_lab_order_{cid}", type="primary", disabled=not picked
        ) and act(
            rt,
            f"{len(picked)} test(s) ordered; the patient goes to the lab",
            order_tests,
            consultation_id=cid,
            lab_test_ids=picked,
            urgent=urgent,
        ):
            st.rerun()
