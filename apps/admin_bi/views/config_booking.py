"""Configuration: online booking. Each branch's mode, the clinic's websites (one list: they may
embed the booking page and call the partner API), the embed code, the doctors' calendar feeds and
the partner API keys. Every write is one core command, audited there."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from zoneinfo import ZoneInfo

import pandas as pd
import streamlit as st

from apps.admin_bi.config_kit import outcome, page, read
from core.partners import keys
from core.scheduling import calendar_feeds, web_booking

DONE, NEW_KEY = "bk_done", "bk_new_key"  # kept across the rerun that shows the fresh lists
MODE_LABELS = {"live": "Live slots", "request": "Requests"}


def act(done: str, fn: Callable[..., object], **kw: object) -> None:
    """Run one command; on success rerun so every list on the page shows it."""
    ok, result = outcome(rt, staff, done, fn, **kw)
    if ok:
        st.session_state[DONE] = done
        if isinstance(result, keys.NewKey):
            st.session_state[NEW_KEY] = result
        st.rerun()


def when(at: dt.datetime | None) -> str:
    return at.astimezone(zone).strftime("%d %b %Y, %H:%M") if at else "—"


def short(url: str) -> str:
    """A feed's address without its middle (a private calendar link carries a secret)."""
    head, _, tail = url.partition("://")[2].partition("/")
    return f"https://{head}/…/{tail.rsplit('/', 1)[-1]}" if tail else url


rt, staff = page("Online booking")
assert staff.desk is not None
zone = ZoneInfo(staff.desk.timezone)
if done := st.session_state.pop(DONE, None):
    st.success(done)
setup = read(rt, staff, web_booking.booking_setup)
book_url = f"{rt.service_url}/book/{setup.slug}"

st.markdown("##### Booking mode per branch")
st.caption(
    "Live slots: patients pick a free slot of a doctor's schedule. Requests: patients propose a "
    "day and a time of day; the desk confirms them on its Web requests page."
)
with st.form("bk_modes"):
    chosen = {}
    for b in setup.branches:
        left, right = st.columns([3, 2], vertical_alignment="center")
        left.markdown(f"**{b.name}**" + ("" if b.active else " · closed"))
        left.code(f"{book_url}?branch={b.id}", language=None)
        chosen[b.id] = right.radio(
            f"Mode at {b.name}",
            list(MODE_LABELS),
            index=list(MODE_LABELS).index(b.mode),
            format_func=MODE_LABELS.__getitem__,
            horizontal=True,
            key=f"bk_mode_{b.id}",
        )
    if st.form_submit_button("Save modes"):
        for b in setup.branches:
            if chosen[b.id] != b.mode:
                act(
                    f"{b.name} now takes {MODE_LABELS[chosen[b.id]].lower()}.",
                    web_booking.set_booking_mode,
                    branch_id=b.id,
                    mode=chosen[b.id],
                )

st.markdown("##### Your websites")
st.caption(
    "One list: these sites may show the booking page inside their pages and call the partner "
    "API from a visitor's browser. Give the scheme and host only."
)
for origin in read(rt, staff, keys.list_origins):
    left, right = st.columns([5, 1], vertical_alignment="center")
    left.markdown(f"`{origin}`")
    if right.button("Remove", key=f"bk_rm_{origin}", icon=":material/delete:"):
        act(f"{origin} removed.", keys.remove_origin, origin=origin)
with st.form("bk_add_origin", clear_on_submit=True):
    typed = st.text_input("Website", placeholder="https://www.example.com", key="bk_origin")
    if st.form_submit_button("Add website"):
        act(f"{typed.strip()} added.", keys.add_origin, origin=typed)

st.markdown("##### Put the booking page on your website")
st.caption("Paste one of these where the page should appear (after adding the website above).")
st.code(
    f'<script src="{rt.service_url}/book/static/embed.js" data-clinic="{setup.slug}" '
    "async></script>",
    language="html",
    wrap_lines=True,
)
st.code(
    f'<iframe src="{book_url}" title="Book an appointment" '
    'style="width:100%;max-width:480px;height:760px;border:0"></iframe>',
    language="html",
    wrap_lines=True,
)

st.markdown("##### Doctors' calendars kept elsewhere")
st.caption(
    "A doctor's iCalendar (ICS) link: it is read every 10 minutes and its busy times are not "
    "offered online. An error keeps the last busy times read."
)
feeds = read(rt, staff, calendar_feeds.list_calendar_feeds)
rows = [
    {
        "Doctor": f.doctor_name,
        "Calendar": short(f.url) if f.url else "—",
        "Last read": when(f.fetched_at) if f.url else "—",
        "Last error": f.last_error or "",
        "Busy blocks": str(f.busy_blocks) if f.url else "—",
    }
    for f in feeds
]
st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
names = {f.doctor_id: f.doctor_name for f in feeds}
if names:
    with st.form("bk_feed", clear_on_submit=True):
        did = st.selectbox("Doctor", list(names), format_func=names.__getitem__, key="bk_doc")
        url = st.text_input("Calendar link (https://…ics)", key="bk_feed_url")
        set_col, remove_col = st.columns(2)
        save = set_col.form_submit_button("Save calendar")
        remove = remove_col.form_submit_button("Remove calendar")
    if save and not url.strip():
        st.error("Paste the doctor's calendar link (https://…) to save it.")
    elif save or remove:
        verb = "set" if save else "removed"
        act(
            f"Calendar {verb} for {names[did]}.",
            calendar_feeds.set_calendar_feed,
            doctor_id=did,
            url=url if save else None,
        )

st.markdown("##### Partner API keys")
if new := st.session_state.pop(NEW_KEY, None):
    st.warning(
        f"The key for **{new.name}**: copy it now. It is shown only this once; QLink keeps only "
        "a fingerprint of it.",
        icon=":material/key:",
    )
    st.code(new.key, language=None)
clients = read(rt, staff, keys.list_api_clients)
st.dataframe(
    pd.DataFrame(
        [
            {
                "Name": c.name,
                "Created": when(c.created_at),
                "By": c.created_by,
                "Revoked": when(c.revoked_at) if c.revoked_at else "",
            }
            for c in clients
        ],
        columns=["Name", "Created", "By", "Revoked"],
    ),
    hide_index=True,
    width="stretch",
)
st.caption("When a key was last used is not recorded.")
left, right = st.columns(2)
with left.form("bk_new_client", clear_on_submit=True):
    name = st.text_input("New key for", placeholder="City website", key="bk_client_name")
    if st.form_submit_button("Create key"):
        act("Key created.", keys.create_api_client, name=name)
live = {c.client_id: c.name for c in clients if c.revoked_at is None}
if live:
    with right.form("bk_revoke"):
        cid = st.selectbox("Key", list(live), format_func=live.__getitem__, key="bk_revoke_id")
        sure = st.checkbox("Yes, stop this key now", key="bk_revoke_sure")
        if st.form_submit_button("Revoke key"):
            if sure:
                act(f"Key {live[cid]} revoked.", keys.revoke_api_client, client_id=cid)
            else:
                st.error("Tick “Yes, stop this key now” to revoke it.")
