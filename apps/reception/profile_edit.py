"""Editing a patient's details from the profile: only changed fields go to ``update_patient``."""

from __future__ import annotations

from typing import Any

import streamlit as st

from apps.common.auth import Staff, recheck
from apps.common.runtime import Runtime
from core.errors import DomainError
from core.patients import update_patient
from core.patients.profile import Profile
from core.patients.validation import BLOOD_GROUPS, GENDERS

LANGUAGES = {"en": "English", "hi": "हिन्दी (Hindi)", "ta": "தமிழ் (Tamil)"}


def edit_form(rt: Runtime, staff: Staff, p: Profile) -> None:
    """An expander with the editable details; saving writes only what changed (audited)."""
    with st.expander("Edit details"), st.form(f"profile_edit_{p.patient_id}", border=False):
        name = st.text_input("Full name", value=p.full_name, key="pe_name", max_chars=200)
        phone = st.text_input("New phone", key="pe_phone", placeholder="Leave blank to keep")
        gender_opts = ["", *GENDERS]
        gender = st.selectbox(
            "Gender",
            gender_opts,
            key="pe_gender",
            index=gender_opts.index(p.gender) if p.gender in GENDERS else 0,
        )
        blood_opts = ["", *BLOOD_GROUPS]
        blood = st.selectbox(
            "Blood group",
            blood_opts,
            key="pe_blood",
            index=blood_opts.index(p.blood_group) if p.blood_group in BLOOD_GROUPS else 0,
        )
        langs = list(LANGUAGES)
        lang = st.selectbox(
            "Language",
            langs,
            format_func=LANGUAGES.__getitem__,
            key="pe_lang",
            index=langs.index(p.preferred_language) if p.preferred_language in langs else 0,
        )
        email = st.text_input("Email", value=p.email or "", key="pe_email")
        address = st.text_area("Address", value=p.address or "", key="pe_address", height=68)
        if st.form_submit_button("Save changes", type="primary", width="stretch"):
            changes = _changes(
                p,
                name=name,
                phone=phone,
                gender=gender,
                blood_group=blood,
                preferred_language=lang,
                email=email,
                address=address,
            )
            _save(rt, staff, p, changes)


def _changes(p: Profile, **typed: str) -> dict[str, Any]:
    current = {
        "name": p.full_name,
        "gender": p.gender or "",
        "blood_group": p.blood_group or "",
        "preferred_language": p.preferred_language,
        "email": p.email or "",
        "address": p.address or "",
    }
    changes: dict[str, Any] = {}
    for field, value in typed.items():
        value = value.strip()
        if field == "phone":
            if value:
                changes["phone"] = value
        elif value != current[field]:
            changes["full_name" if field == "name" else field] = value or None
    return changes


def _save(rt: Runtime, staff: Staff, p: Profile, changes: dict[str, Any]) -> None:
    if not changes:
        st.info("Nothing changed.")
        return
    recheck(rt, touch=True)
    try:
        with rt.db.transaction(staff.actor.tenant_id) as session:
            update_patient(session, staff.actor, p.patient_id, vault=rt.vault, **changes)
    except DomainError as exc:
        st.error(exc.message)
        return
    st.toast("Saved: " + ", ".join(k.replace("_", " ") for k in changes))
    st.rerun()
