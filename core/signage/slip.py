"""The printed token slip (80 mm thermal roll or A6): code, doctor, room, ETA and a QR code of
the patient's live token page (``/t/{ref}``, signed like the WhatsApp link)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from fpdf.enums import Align, XPos, YPos
from sqlalchemy.orm import Session

from core.auth.permissions import require
from core.billing.upi import qr_png
from core.context import Actor
from core.documents.pdf import ClinicHeading, ClinicPDF
from core.documents.pdf.layout import FAMILY
from core.errors import ValidationFailed
from core.signage.links import link_expiry, sign_token_ref
from core.signage.token_view import TokenView, token_view

SIZES: dict[str, tuple[str | tuple[float, float], float, float]] = {
    # page, margin (mm), QR size (mm)
    "80mm": ((80, 125), 4, 34),
    "a6": ((105, 148), 8, 40),
}


def token_slip_pdf(
    session: Session, actor: Actor, *, token_id: int, secret: str, base_url: str, size: str = "80mm"
) -> bytes:
    """Render a token's slip with a QR of its live page, signed until the day's end."""
    require(actor, "queue.read")
    if size not in SIZES:
        raise ValidationFailed("Slip size must be 80mm or a6", field="size")
    view = token_view(session, actor, token_id=token_id)
    expires = link_expiry(view.service_date, ZoneInfo(view.timezone))
    ref = sign_token_ref(secret, view.token_id, actor.require_tenant(), expires)
    return render_slip(view, link=f"{base_url.rstrip('/')}/t/{ref}", size=size)


def render_slip(view: TokenView, *, link: str, size: str = "80mm") -> bytes:
    """Lay out a slip (no database)."""
    page, margin, qr = SIZES[size]
    pdf = ClinicPDF(ClinicHeading(view.clinic, view.branch), page=page, margin=margin)
    pdf.set_font(FAMILY, "", 8)
    pdf.cell(0, 4, f"{view.department} · token", align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FAMILY, "B", 30)
    pdf.cell(0, 13, view.code, align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.facts(_facts(view), label_width=16 if size == "80mm" else 20)
    pdf.qr(qr_png(link, scale=4), size=qr)
    pdf.set_font(FAMILY, "", 7.5)
    pdf.multi_cell(
        0, 3.6, "Scan to follow your turn live", align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT
    )
    pdf.cell(0, 4, view.service_date.strftime("%d %b %Y"), align=Align.C)
    return pdf.render()


def _facts(view: TokenView) -> list[tuple[str, str]]:
    pairs = [("Name", view.name)] if view.name else []
    pairs.append(("Doctor", view.doctor or "Next free doctor"))
    if view.room:
        pairs.append(("Room", view.room))
    if view.eta is not None:
        eta = view.eta.astimezone(ZoneInfo(view.timezone)).strftime("%H:%M")
        pairs.append(("ETA", f"about {eta} ({view.minutes or 0} min)"))
    if view.ahead is not None:
        pairs.append(("Ahead", "You are next" if view.ahead == 0 else f"{view.ahead} waiting"))
    return pairs
