"""Configuration: WhatsApp message templates per language and how long message texts are kept."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from apps.admin_bi.config_kit import command, page, read
from core import clinic_config
from core.messaging import templates

rt, staff = page("Messages")
st.markdown("##### Templates")
st.caption(
    "Names and languages must match the templates Meta approved for your number; a patient gets "
    "their language, else English."
)
rows = read(rt, staff, templates.list_templates)
st.dataframe(
    pd.DataFrame(
        [
            {
                "Template": t.name,
                "Language": t.language,
                "Category": t.category,
                "Status": t.status,
                "Text": t.body,
            }
            for t in rows
        ],
        columns=["Template", "Language", "Category", "Status", "Text"],
    ),
    hide_index=True,
    width="stretch",
)
with st.form("save_template"):
    c1, c2, c3, c4 = st.columns(4)
    name = c1.text_input("Template name", key="tpl_name")
    lang = c2.selectbox("Language", templates.LANGUAGES, key="tpl_lang")
    category = c3.selectbox("Category", templates.CATEGORIES, key="tpl_category")
    status = c4.selectbox("Status at Meta", templates.STATUSES, index=1, key="tpl_status")
    body = st.text_area("Text ({{1}}, {{2}} … are filled in per message)", key="tpl_body")
    if st.form_submit_button("Save template"):
        command(
            rt,
            staff,
            "Template saved.",
            templates.save_template,
            name=name,
            language=lang,
            category=category,
            body=body,
            status=status,
        )

st.markdown("##### How long message texts are kept")
days = read(rt, staff, clinic_config.retention_days)
st.caption(
    "After this many days the text of every WhatsApp message is deleted (DPDP); counts, "
    "statuses and costs stay for the reports."
)
with st.form("retention"):
    new = st.number_input("Days", 1, clinic_config.MAX_RETENTION_DAYS, days, key="ret_days")
    if st.form_submit_button("Save retention"):
        command(
            rt,
            staff,
            f"Message texts are now kept {int(new)} days.",
            clinic_config.set_retention_days,
            days=int(new),
        )
