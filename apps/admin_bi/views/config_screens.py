"""Configuration: what the waiting-room TVs say. A change shows on open screens at once."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from apps.admin_bi.config_kit import command, page, read
from core import clinic_config
from core.signage import announcements

rt, staff = page("TV announcements")
branches = read(rt, staff, clinic_config.clinic_structure)
names = {b.id: b.name for b in branches}
bid = st.selectbox("Branch", list(names), format_func=names.__getitem__, key="ann_branch")
st.caption("Screens that are open change within a second of saving; no reload is needed.")
rows = read(rt, staff, announcements.list_announcements, branch_id=bid)
st.dataframe(
    pd.DataFrame(
        [
            {
                "No.": a.id,
                "Text": a.body,
                "Language": a.language,
                "Order": a.position,
                "Showing": "yes" if a.active else "hidden",
            }
            for a in rows
        ],
        columns=["No.", "Text", "Language", "Order", "Showing"],
    ),
    hide_index=True,
    width="stretch",
)
with st.form("add_announcement", clear_on_submit=True):
    body = st.text_input("New announcement", key="ann_body", max_chars=announcements.MAX_BODY)
    c1, c2 = st.columns(2)
    lang = c1.selectbox("Language", announcements.LANGUAGES, key="ann_lang")
    order = c2.number_input("Order", 0, 99, 0, key="ann_order")
    if st.form_submit_button("Show on screens"):
        command(
            rt,
            staff,
            "Announcement added and sent to the screens.",
            announcements.add_announcement,
            branch_id=bid,
            body=body,
            language=lang,
            position=int(order),
        )
if rows:
    by_id = {a.id: a for a in rows}
    with st.form("edit_announcement"):
        aid = st.selectbox(
            "Change", list(by_id), format_func=lambda i: by_id[i].body[:60], key="ann_pick"
        )
        chosen = by_id[aid]
        text = st.text_input("Text", chosen.body, key="ann_edit_body")
        showing = st.checkbox("Showing", chosen.active, key="ann_edit_active")
        if st.form_submit_button("Save"):
            command(
                rt,
                staff,
                "Saved; the screens follow.",
                announcements.edit_announcement,
                announcement_id=aid,
                body=text,
                language=chosen.language,
                position=chosen.position,
                active=showing,
            )
