"""DPDP: a patient's consents with their history, erasure on request (what the law keeps is
said), the breach log, and the message retention purge's last run."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pandas as pd
import streamlit as st

from apps.admin_bi import kit
from apps.admin_bi.config_kit import command, page, read
from core.privacy import breaches, consents, erasure, retention_log

rt, staff = page("Privacy (DPDP)")
assert staff.desk is not None

kit.question("What has a patient agreed to, and when did that change?")
patient = st.number_input("Patient no.", min_value=0, step=1, key="dp_patient")
if patient:
    history = read(rt, staff, consents.consent_history, patient_id=int(patient))
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "Purpose": h.purpose,
                    "Decision": "granted" if h.granted else "withdrawn",
                    "How": h.method,
                    "By guardian": "yes" if h.by_guardian else "",
                    "When": h.recorded_at,
                }
                for h in history
            ],
            columns=["Purpose", "Decision", "How", "By guardian", "When"],
        ),
        hide_index=True,
    )
    with st.expander("Erase this patient's personal data (on their request)"):
        st.markdown("**Erased or anonymised:**\n" + "\n".join(f"- {e}" for e in erasure.ERASED))
        st.markdown(
            "**Kept, as the law requires:**\n" + "\n".join(f"- {r}" for r in erasure.RETAINED)
        )
        note = st.text_input("How the request was made", key="dp_note")
        sure = st.checkbox("The patient asked for erasure; this cannot be undone", key="dp_sure")
        if st.button("Erase", type="primary", disabled=not sure, key="dp_erase"):
            command(
                rt,
                staff,
                "Erased. The request is recorded as completed.",
                erasure.erase_patient,
                patient_id=int(patient),
                note=note,
            )

kit.question("Which personal-data breaches happened, and were people told?")
log = read(rt, staff, breaches.list_breaches)
st.dataframe(
    pd.DataFrame(
        [
            {
                "No.": b.id,
                "Found": b.detected_at,
                "What happened": b.description,
                "People affected": b.affected_count,
                "Notified": b.notified_at or "not yet",
            }
            for b in log
        ],
        columns=["No.", "Found", "What happened", "People affected", "Notified"],
    ),
    hide_index=True,
    width="stretch",
)
with st.form("breach", clear_on_submit=True):
    what = st.text_area("What happened", key="dp_breach_text")
    c1, c2, c3 = st.columns(3)
    day = c1.date_input("Found on", staff.desk.today, max_value=staff.desk.today, key="dp_day")
    hour = c2.time_input("at", dt.time(9, 0), key="dp_time")
    count = c3.number_input("People affected", 0, 10_000_000, 0, key="dp_count")
    if st.form_submit_button("Record breach"):
        found = dt.datetime.combine(day, hour, ZoneInfo(staff.desk.timezone))
        command(
            rt,
            staff,
            "Breach recorded.",
            breaches.record_breach,
            detected_at=found,
            description=what,
            affected_count=int(count),
        )
pending = [b for b in log if b.notified_at is None]
if pending:
    ids = {b.id: b.description[:60] for b in pending}
    c1, c2 = st.columns([3, 1])
    which = c1.selectbox(
        "Mark as notified", list(ids), format_func=ids.__getitem__, key="dp_notify_pick"
    )
    if c2.button("Board and people told", key="dp_notify"):
        command(rt, staff, "Marked as notified.", breaches.mark_notified, breach_id=which)

kit.question("When did the message purge last run, and what did it remove?")
report = read(rt, staff, retention_log.retention_report)
last = report.last_run
st.write(f"Message texts are kept **{report.days} days**, then deleted; counts stay.")
if last is None:
    st.info("No message text has been old enough to purge yet.")
else:
    st.metric(
        "Last purge",
        f"{last.day:%d %b %Y}",
        f"{last.messages_removed:,} message texts removed",
        delta_color="off",
    )
    st.dataframe(
        pd.DataFrame([{"Day": r.day, "Texts removed": r.messages_removed} for r in report.runs]),
        hide_index=True,
    )
