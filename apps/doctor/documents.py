"""The patient's documents in the room: upload a certificate or report, download or send one
on WhatsApp, and make the referral summary PDF.

Uploads are checked by core (type by content, size, checksum) and refused with its message;
a download fetches the bytes only when the doctor clicks (``download_document``, audited);
a send is an outbox intent with a per-click key so a double click sends once.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from html import escape
from zoneinfo import ZoneInfo

import streamlit as st

from apps.common.runtime import Runtime
from apps.reception.live_queues import act
from core.clinical.summary_pdf import referral_summary, render_summary, store_summary
from core.clinical.uploads import (
    MAX_BYTES,
    UPLOAD_KINDS,
    DocumentEntry,
    download_document,
    patient_documents,
    send_upload,
    upload_document,
)
from core.context import Actor
from core.errors import DomainError

LIST = "qlink_doctor_documents"  # (patient, version) → entries
VERSION = "qlink_doctor_documents_v"  # bumped after an upload or a summary
NONCE = "qlink_doctor_send_nonce"  # document id → this click's send key
KINDS = {"certificate": "Certificate", "report": "Report", "lab_report": "Lab report"}
LABEL = {**KINDS, "prescription": "Prescription", "summary": "Referral summary"}
SHOWN = 6


def entries(rt: Runtime, patient_id: int) -> list[DocumentEntry]:
    """The patient's documents, read again only after one was added."""
    version = st.session_state.get(VERSION, 0)
    cached = st.session_state.get(LIST)
    if cached is not None and cached[0] == (patient_id, version):
        return cached[1]  # type: ignore[no-any-return]
    staff = st.session_state["qlink_staff"]
    try:
        with rt.db.transaction(staff.actor.tenant_id, readonly=True) as session:
            found = patient_documents(session, staff.actor, patient_id=patient_id)
    except DomainError as exc:
        st.error(exc.message)
        return []
    st.session_state[LIST] = ((patient_id, version), found)
    return found


def _changed() -> None:
    st.session_state[VERSION] = st.session_state.get(VERSION, 0) + 1


def fetch(rt: Runtime, actor: Actor, document_id: int) -> Callable[[], bytes]:
    """The download's bytes, read (and audited) only when the doctor clicks Download."""

    def read() -> bytes:
        with rt.db.transaction(actor.tenant_id) as session:
            return download_document(session, actor, document_id).content

    return read


def _when(entry: DocumentEntry, zone: ZoneInfo) -> str:
    at = entry.created_at
    return f"{at.astimezone(zone):%d %b}" if isinstance(at, dt.datetime) else ""


def _size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MB"
    return f"{max(1, round(size / 1024))} KB"


def listing(rt: Runtime, patient_id: int, zone: ZoneInfo) -> None:
    """Documents newest first, each with Download and Send on WhatsApp."""
    found = entries(rt, patient_id)
    st.markdown(
        f'<div class="qd-title qd-docs">Documents · {len(found)}</div>', unsafe_allow_html=True
    )
    if not found:
        st.caption("No documents yet.")
    staff = st.session_state["qlink_staff"]
    nonces: dict[int, str] = st.session_state.setdefault(NONCE, {})
    for entry in found[:SHOWN]:
        name, get, send = st.columns([3, 1.3, 1.3], vertical_alignment="center", gap="xsmall")
        size = _size(entry.size)
        name.markdown(
            f'<div class="qd-doc"><b>{escape(LABEL.get(entry.kind, entry.kind))}</b> '
            f"{escape(entry.filename)}"
            f'<span class="qd-muted"> · {_when(entry, zone)} · {size}</span></div>',
            unsafe_allow_html=True,
        )
        get.download_button(
            "Download",
            data=fetch(rt, staff.actor, entry.id),
            file_name=entry.filename,
            mime=entry.mime,
            key=f"doc_get_{entry.id}",
            icon=":material/download:",
            help=f"Download {entry.filename}",
            on_click="ignore",
            type="tertiary",
        )
        nonce = nonces.setdefault(entry.id, uuid.uuid4().hex)
        if send.button(
            "WhatsApp",
            key=f"doc_send_{entry.id}",
            icon=":material/send:",
            help="Send on WhatsApp to the patient",
            type="tertiary",
        ) and act(
            rt,
            f"{entry.filename} is on its way to the patient's WhatsApp",
            send_upload,
            document_id=entry.id,
            request_key=nonce,
        ):
            nonces.pop(entry.id, None)  # a later click is a new send
    if len(found) > SHOWN:
        st.caption(f"… {len(found) - SHOWN} older documents")


def popover(rt: Runtime, patient_id: int, consultation_id: int | None, zone: ZoneInfo) -> None:
    """The documents popover: the list, an upload, and the referral summary PDF."""
    count = len(entries(rt, patient_id))
    with st.popover(f"Documents · {count}", icon=":material/folder_open:", width="stretch"):
        listing(rt, patient_id, zone)
        st.markdown('<div class="qd-title">Upload</div>', unsafe_allow_html=True)
        upload(rt, patient_id, consultation_id)
        st.markdown('<div class="qd-title">Referral</div>', unsafe_allow_html=True)
        summary(rt, patient_id)


def upload(rt: Runtime, patient_id: int, consultation_id: int | None) -> None:
    turn = st.session_state.get(VERSION, 0)
    kind = st.selectbox("Kind", UPLOAD_KINDS, format_func=KINDS.get, key="doc_up_kind")
    file = st.file_uploader(
        "File",
        label_visibility="collapsed",  # the box itself names the types and the size
        type=["pdf", "jpg", "jpeg", "png"],
        max_upload_size=MAX_BYTES // (1024 * 1024),
        key=f"doc_up_file_{turn}",  # a new key after each upload empties the box
    )
    if not st.button(
        "Attach to the record",
        key="doc_up_go",
        type="primary",
        icon=":material/attach_file:",
        disabled=file is None,
        help="Checked by its content: PDF, JPEG or PNG only",
    ):
        return
    assert file is not None
    staff = st.session_state["qlink_staff"]
    try:
        with rt.db.transaction(staff.actor.tenant_id) as session:
            upload_document(
                session, staff.actor, patient_id=patient_id, kind=kind, filename=file.name,
                content=file.getvalue(), consultation_id=consultation_id,
            )  # fmt: skip
    except DomainError as exc:
        st.error(f"{file.name} was not uploaded: {exc.message}", icon=":material/block:")
        return
    _changed()
    st.toast(f"{file.name} uploaded", icon=":material/check_circle:")
    st.rerun()


def summary(rt: Runtime, patient_id: int) -> None:
    """Read the record in one transaction, draw the PDF after it, keep it as a document."""
    to = st.text_input("Referred to (optional)", key="doc_ref_to", max_chars=200)
    if not st.button("Referral summary PDF", key="doc_ref_make", icon=":material/summarize:"):
        return
    staff = st.session_state["qlink_staff"]
    try:
        with rt.db.transaction(staff.actor.tenant_id) as session:
            view = referral_summary(
                session, staff.actor, patient_id=patient_id, referred_to=to.strip() or None
            )
        content = render_summary(view)  # no database while drawing
        with rt.db.transaction(staff.actor.tenant_id) as session:
            store_summary(session, staff.actor, patient_id=patient_id, content=content)
    except DomainError as exc:
        st.error(exc.message)
        return
    _changed()
    st.toast(
        "Referral summary ready: download it or send it on WhatsApp", icon=":material/check_circle:"
    )
    st.rerun()
