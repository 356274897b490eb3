"""The audit viewer: who did what, to which record, when; and whether the log was tampered with."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pandas as pd
import streamlit as st

from apps.admin_bi import kit
from apps.common import auth
from apps.common.runtime import runtime
from core.audit_views import audit_choices, audit_entries, check_chain
from core.errors import DomainError
from db.engine import ALL_TENANTS

rt = runtime()
staff = auth.current()
actor = staff.actor
scope = actor.tenant_id if actor.tenant_id is not None else ALL_TENANTS
zone = ZoneInfo(staff.desk.timezone if staff.desk else rt.settings.timezone)
today = staff.desk.today if staff.desk else dt.datetime.now(zone).date()
whose = staff.desk.clinic_name if staff.desk else "the platform"
st.markdown(f"### Audit log · {whose}")

kit.question(
    "Has anyone altered the log?",
    "Each entry carries a hash of its contents and of the entry before it; recomputing them "
    "finds an edited, removed or inserted row.",
)
if st.button("Verify the chain", icon=":material/verified_user:", key="verify_chain"):
    try:
        with rt.db.transaction(scope, readonly=True) as session:
            check = check_chain(session, actor)
    except DomainError as exc:
        st.error(exc.message)
    else:
        if check.ok:
            st.success(f"Intact: all {check.entries:,} entries match their hashes.")
        else:
            bad = check.broken_entry
            st.error(
                f"Broken at entry {check.broken_seq}: {check.reason}. Entries up to "
                f"{check.last_good_seq or 0} are intact; from {check.broken_seq} on the log "
                "cannot be trusted."
            )
            if bad is not None:
                st.markdown(
                    f"Entry {bad.seq} as stored now: **{bad.action}** on {bad.entity} "
                    f"{bad.entity_id or ''} by {bad.actor_label}, "
                    f"{bad.at.astimezone(zone):%d %b %Y %H:%M:%S}"
                )

try:
    with rt.db.transaction(scope, readonly=True) as session:
        options = audit_choices(session, actor)
except DomainError as exc:
    st.error(exc.message)
    st.stop()

kit.question("Who did what, and when?")
cols = st.columns([1.2, 1.2, 0.8, 1.3])
users = {0: "Everyone"} | dict(options.actors)
user = cols[0].selectbox("User", list(users), format_func=users.__getitem__, key="audit_user")
action = cols[1].selectbox("Action", ["Any action", *options.actions], key="audit_action")
patient = cols[2].number_input("Patient no.", min_value=0, step=1, key="audit_patient")
dates = cols[3].date_input(
    "From – to", (today - dt.timedelta(days=6), today), max_value=today, key="audit_dates"
)
picked = tuple(dates) if isinstance(dates, tuple | list) else (dates,)
start = picked[0] if picked else today
end = picked[1] if len(picked) > 1 else start
try:
    with rt.db.transaction(scope, readonly=True) as session:
        lines = audit_entries(
            session,
            actor,
            user_id=int(user) or None,
            patient_id=int(patient) or None,
            action=None if action == "Any action" else action,
            since=dt.datetime.combine(start, dt.time(), zone),
            until=dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), zone),
            limit=500,
        )
except DomainError as exc:
    st.error(exc.message)
    st.stop()

st.caption(f"{len(lines)} entries, newest first (at most 500)")
df = pd.DataFrame(
    [
        {
            "#": line.seq,
            "When": line.at.astimezone(zone).strftime("%d %b %Y %H:%M:%S"),
            "User": line.actor_label,
            "Action": line.action,
            "Record": f"{line.entity} {line.entity_id or ''}".strip(),
            "Detail": ", ".join(f"{k}={v}" for k, v in sorted(line.detail.items())),
        }
        for line in lines
    ]
)
kit.show_table(df, "audit_log", empty="No entries match these filters.", height=420)
