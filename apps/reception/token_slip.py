"""The slip of the token just issued: code, doctor, room, ETA and the QR of its live page.

"Print slip" downloads the 80 mm PDF (``core.signage.slip``). The QR encodes the patient's
signed ``/t/…`` link (the service's public address), so they can follow the queue on a phone.
"""

from __future__ import annotations

import io
from html import escape
from zoneinfo import ZoneInfo

import segno
import streamlit as st

from apps.common import auth
from apps.common.runtime import Runtime
from core.errors import DomainError
from core.signage.links import link_expiry, sign_token_ref
from core.signage.slip import render_slip
from core.signage.token_view import TokenView, token_view

LAST = "qlink_desk_last_token"  # (token id, patient name, newly issued)
PDF = "qlink_desk_slip_pdf"  # (token id, PDF bytes)


def remember(token_id: int, patient_name: str, *, created: bool) -> None:
    st.session_state[LAST] = (token_id, patient_name, created)


def show(rt: Runtime) -> None:
    last = st.session_state.get(LAST)
    if last is None:
        return
    token_id, name, created = last
    staff = auth.current()
    try:
        with rt.db.transaction(staff.actor.tenant_id, readonly=True) as session:
            view = token_view(session, staff.actor, token_id=token_id)
    except DomainError as exc:
        st.error(exc.message)
        return
    assert staff.actor.tenant_id is not None
    expires = link_expiry(view.service_date, ZoneInfo(view.timezone))
    ref = sign_token_ref(rt.settings.secret_key, view.token_id, staff.actor.tenant_id, expires)
    link = f"{rt.service_url}/t/{ref}"
    text, qr = st.columns([2.2, 1], gap="small", vertical_alignment="center")
    text.markdown(_card(view, name, created), unsafe_allow_html=True)
    text.download_button(
        "Print slip", _pdf(view, link), file_name=f"token-{view.code}.pdf",
        mime="application/pdf", key="slip_pdf", icon=":material/print:", on_click="ignore",
        help="The 80 mm thermal slip with the QR (PDF)",
    )  # fmt: skip
    qr.image(_qr(link), caption="Scan to follow the queue", width=120)


def _card(view: TokenView, name: str, created: bool) -> str:
    zone = ZoneInfo(view.timezone)
    where = " · ".join(part for part in (view.doctor, view.room) if part)
    eta = view.eta.astimezone(zone).strftime("%H:%M") if view.eta else None
    wait = f"about {view.minutes} min" if view.minutes else ""
    ahead = {None: "", 0: "next in line"}.get(view.ahead, f"{view.ahead} ahead")
    when = " · ".join(part for part in (eta and f"ETA {eta}", wait, ahead) if part)
    note = "" if created else '<div class="ql-note">Already held: same token given back</div>'
    return (
        f'<div class="ql-slip"><div class="ql-slip-code">{escape(view.code)}</div>'
        f"<div><b>{escape(name)}</b></div>"
        f"<div>{escape(where or view.department)}</div>"
        f"<div>{escape(when or view.status.replace('_', ' '))}</div>{note}</div>"
    )


def _pdf(view: TokenView, link: str) -> bytes:
    """The slip PDF, rendered once per token (reruns of the desk reuse it)."""
    cached = st.session_state.get(PDF)
    if cached is not None and cached[0] == view.token_id:
        return bytes(cached[1])
    pdf = render_slip(view, link=link, size="80mm")
    st.session_state[PDF] = (view.token_id, pdf)
    return pdf


def _qr(link: str) -> bytes:
    out = io.BytesIO()
    segno.make(link, error="m").save(out, kind="png", scale=4, border=2)
    return out.getvalue()
