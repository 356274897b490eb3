"""System health: is everything flowing (webhooks, queue, outbox, messages, database, screens)?"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from apps.admin_bi import kit
from apps.admin_bi.service_probe import open_screens
from apps.common import auth
from apps.common.runtime import runtime
from core.errors import DomainError
from core.system_health import database_p95_ms, health_figures
from db.engine import ALL_TENANTS

rt = runtime()
staff = auth.current()
actor = staff.actor
scope = actor.tenant_id if actor.tenant_id is not None else ALL_TENANTS
st.markdown(f"### System health · {staff.desk.clinic_name if staff.desk else 'all clinics'}")


@st.fragment(run_every=30)
def figures() -> None:
    """Re-read every 30 s while the page is open."""
    try:
        with rt.db.transaction(scope, readonly=True) as session:
            h = health_figures(session, actor, now=dt.datetime.now(dt.UTC))
            p95 = database_p95_ms(session, actor)
    except DomainError as exc:
        st.error(exc.message)
        return
    kit.question(
        "Is anything stuck or failing right now?",
        f"counts over the last {h.window_hours} hours; backlog and lag as of now",
    )
    row = st.columns(4)
    delivery = h.delivery_pct
    row[0].metric(
        "Messages delivered",
        f"{delivery}%" if delivery is not None else "—",
        help=f"{h.messages_delivered} of {h.messages_sent} sent reached the phone",
        border=True,
    )
    row[1].metric("Messages failed", h.messages_failed, border=True)
    row[2].metric("Patients waiting", h.queue_depth, help="Tokens waiting or called", border=True)
    row[3].metric("Database p95", f"{p95:.0f} ms", help="20 timed round trips", border=True)
    row = st.columns(4)
    row[0].metric("Outbox backlog", h.outbox_pending, help="Side effects not yet sent", border=True)
    row[1].metric(
        "Worker lag",
        f"{h.worker_lag_seconds:.0f} s",
        help="Age of the oldest message that is due but not sent",
        border=True,
    )
    row[2].metric("Outbox failed", h.outbox_failed, help="Gave up after retries", border=True)
    screens = open_screens(rt.settings.public_url) if rt.settings.public_url else None
    row[3].metric(
        "Open TV screens",
        screens if screens is not None else "—",
        help="From the service's /metrics (— when the service does not answer)",
        border=True,
    )
    if h.webhook_success_pct is not None or h.webhooks_done is not None:
        success = h.webhook_success_pct
        st.metric(
            "Webhook success (all clinics)",
            f"{success}%" if success is not None else "—",
            help=f"{h.webhooks_done} done, {h.webhooks_failed} failed, "
            f"{h.webhooks_pending} pending",
            border=True,
            width=260,
        )
    kit.question("Which messages failed, and why?")
    rows = [(f.at.strftime("%d %b %H:%M"), f.what, f.code, f.reason) for f in h.failed]
    df = pd.DataFrame(rows, columns=["When", "Message", "Code", "Reason"])
    kit.show_table(df, "failed_messages", empty="No failed messages in this window.")


figures()
