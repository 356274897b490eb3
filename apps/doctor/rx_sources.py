"""Where prescription lines come from besides typing: the clinic's formulary (type a few
letters, click the medicine: its usual dose, food and days come with it) and the doctor's
favourites (use one, or save today's lines as one)."""

from __future__ import annotations

import dataclasses

import streamlit as st

from apps.common.runtime import Runtime
from apps.doctor.glance import medicine_text
from apps.reception.live_queues import act
from core.clinical.formulary import (
    Favourite,
    favourite_lines,
    list_favourites,
    save_favourite,
    search_formulary,
)
from core.clinical.medicines import MedicineLine
from core.errors import DomainError

FAVOURITES = "qlink_doctor_favourites"
SHOWN = 6


def _read(rt: Runtime, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    staff = st.session_state["qlink_staff"]
    with rt.db.transaction(staff.actor.tenant_id, readonly=True) as session:
        return fn(session, staff.actor, *args, **kwargs)


def formulary_picker(rt: Runtime, cid: int, lines: list[MedicineLine]) -> None:
    """Search the formulary; a click adds the medicine with its usual line."""
    query = st.text_input(
        "Find medicine",
        key=f"doc_rx_find_{cid}",
        placeholder="Type a few letters of the formulary name, e.g. ibu, para, pan",
    ).strip()
    if not query:
        return
    try:
        found: list[MedicineLine] = _read(rt, search_formulary, query, limit=SHOWN)
    except DomainError as exc:
        st.error(exc.message)
        return
    if not found:
        st.caption("Not in the formulary: type it in the row below.")
        return
    for i, found_line in enumerate(found):
        line = dataclasses.replace(found_line, dosage_pattern=found_line.dosage_pattern or "1-0-1")
        if st.button(
            medicine_text(line),
            key=f"doc_rx_pick_{cid}_{i}",
            icon=":material/add:",
            type="tertiary",
        ):
            lines.append(line)
            st.session_state.pop(f"doc_rx_find_{cid}", None)
            st.rerun()


def favourites(rt: Runtime, cid: int, lines: list[MedicineLine]) -> None:
    """Use a favourite (adds its lines) or save today's lines as one."""
    if FAVOURITES not in st.session_state:
        try:
            st.session_state[FAVOURITES] = _read(rt, list_favourites)
        except DomainError as exc:
            st.error(exc.message)
            return
    saved: list[Favourite] = st.session_state[FAVOURITES]
    names = {f.id: f.name for f in saved}
    pick, use, keep = st.columns([2.4, 1, 1.3], vertical_alignment="bottom", gap="xsmall")
    chosen = pick.selectbox(
        "Favourites",
        list(names),
        format_func=names.get,
        index=None,
        placeholder="No favourites yet" if not names else "Pick a favourite",
        key=f"doc_fav_pick_{cid}",
    )
    if use.button("Use", key=f"doc_fav_use_{cid}", disabled=chosen is None, width="stretch"):
        try:
            lines.extend(_read(rt, favourite_lines, chosen))
        except DomainError as exc:
            st.error(exc.message)
            return
        st.rerun()
    with keep.popover("Save as favourite", disabled=not lines, width="stretch"):
        name = st.text_input("Name", key=f"doc_fav_name_{cid}", placeholder="e.g. Knee OA")
        if st.button("Save favourite", key=f"doc_fav_save_{cid}", type="primary") and act(
            rt, f"Favourite “{name.strip()}” saved", save_favourite, name=name, lines=list(lines)
        ):
            st.session_state.pop(FAVOURITES, None)
            st.rerun()
