"""``ClinicPDF``: an fpdf2 document with QLink's fonts, the clinic header, tables and a footer."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fpdf import FPDF
from fpdf.enums import Align, XPos, YPos

FONT_DIR = Path(__file__).with_name("fonts")
FAMILY = "NotoSans"
# Scripts beyond Latin, tried in order for characters NotoSans lacks.
_FALLBACKS = {"NotoSansDeva": "NotoSansDevanagari", "NotoSansTaml": "NotoSansTamil"}
INK = (33, 37, 41)
MUTED = (108, 117, 125)
RULE = (206, 212, 218)


@dataclass(frozen=True)
class ClinicHeading:
    """Who issues the document, printed at the top of every page."""

    clinic: str
    branch: str | None = None
    address: str | None = None
    extra: str | None = None  # e.g. "GSTIN 29ABCDE1234F1Z5"


@dataclass(frozen=True)
class Column:
    """A table column: heading, relative width, alignment ("L" or "R")."""

    heading: str
    width: float
    align: str = "L"


class ClinicPDF(FPDF):
    """A page (A4, A6 or an 80 mm receipt roll) with the clinic header and a page footer."""

    def __init__(
        self,
        heading: ClinicHeading,
        *,
        page: str | tuple[float, float] = "A4",
        margin: float = 12,
        footer_text: str | None = None,
    ) -> None:
        super().__init__(unit="mm", format=page)
        self.heading = heading
        self.footer_text = footer_text
        self.compact = self.w < 110  # A6 and receipt rolls: smaller type, no page numbers
        self.set_margins(margin, margin, margin)
        self.set_auto_page_break(True, margin=margin + (0 if self.compact else 6))
        _add_fonts(self)
        self.set_text_shaping(True)
        self.set_title(heading.clinic)
        self.set_creator("QLink")
        self.add_page()

    def header(self) -> None:
        big, small = (11, 7.5) if self.compact else (16, 9)
        self.set_text_color(*INK)
        self.set_font(FAMILY, "B", big)
        self._line(self.heading.clinic, big * 0.5)
        self.set_font(FAMILY, "", small)
        self.set_text_color(*MUTED)
        for text in (self.heading.branch, self.heading.address, self.heading.extra):
            if text:
                self._line(text, small * 0.45)
        self.ln(1.5)
        self.rule()
        self.ln(2)
        self.set_text_color(*INK)

    def footer(self) -> None:
        if self.compact and not self.footer_text:
            return
        self.set_y(-(self.b_margin + (0 if self.compact else -4)))
        self.set_font(FAMILY, "", 7 if self.compact else 8)
        self.set_text_color(*MUTED)
        text = self.footer_text or ""
        if not self.compact:
            text = f"{text}    Page {self.page_no()} of {{nb}}".strip()
        self.cell(0, 4, text, align=Align.C)

    def _line(self, text: str, height: float) -> None:
        align = Align.C if self.compact else Align.L
        self.multi_cell(0, height, text, align=align, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def rule(self) -> None:
        """Draw a thin line across the page at the current height."""
        self.set_draw_color(*RULE)
        self.set_line_width(0.2)
        self.line(self.l_margin, self.get_y(), self.w - self.r_margin, self.get_y())

    def title_line(self, text: str, *, size: float | None = None) -> None:
        """A bold document title ("Bill", "Receipt", "Token")."""
        size = size or (10 if self.compact else 13)
        self.set_font(FAMILY, "B", size)
        self.cell(0, size * 0.5, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(1)

    def facts(self, pairs: Sequence[tuple[str, str]], *, label_width: float = 28) -> None:
        """Label: value lines (patient, doctor, date …); values may be in any script."""
        size = 8 if self.compact else 9.5
        for label, value in pairs:
            self.set_font(FAMILY, "", size)
            self.set_text_color(*MUTED)
            self.cell(label_width, size * 0.5, label)
            self.set_text_color(*INK)
            self.set_font(FAMILY, "B", size)
            self.multi_cell(0, size * 0.5, value, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(1)

    def grid(self, columns: Sequence[Column], rows: Sequence[Sequence[str]]) -> None:
        """A table with a header row; column widths are shares of the printable width."""
        size = 7.5 if self.compact else 9
        self.set_font(FAMILY, "", size)
        self.set_draw_color(*RULE)
        total = sum(c.width for c in columns)
        widths = [c.width / total * self.epw for c in columns]
        aligns: Any = [c.align for c in columns]
        with self.table(
            col_widths=widths,
            text_align=aligns,
            line_height=size * 0.55,
            borders_layout="HORIZONTAL_LINES",
            headings_style=_heading_style(),
            padding=(1, 1),
            first_row_as_headings=True,
        ) as table:
            table.row([c.heading for c in columns])
            for values in rows:
                table.row(list(values))
        self.ln(2)

    def qr(self, png: bytes, *, size: float, x: float | None = None) -> None:
        """Place a QR image (PNG bytes) ``size`` mm wide at the current height."""
        left = x if x is not None else (self.w - size) / 2
        self.image(io.BytesIO(png), x=left, y=self.get_y(), w=size, h=size)
        self.set_y(self.get_y() + size + 1)

    def render(self) -> bytes:
        """The finished document."""
        return bytes(self.output())


def amounts_box(pdf: ClinicPDF, rows: Sequence[tuple[str, str, bool]]) -> None:
    """Right-aligned totals (label, amount, bold) under a table."""
    size = 8 if pdf.compact else 9.5
    label_w = pdf.epw * (0.55 if pdf.compact else 0.3)
    value_w = pdf.epw * (0.45 if pdf.compact else 0.2)
    for label, value, bold in rows:
        pdf.set_x(pdf.w - pdf.r_margin - label_w - value_w)
        pdf.set_font(FAMILY, "B" if bold else "", size)
        pdf.cell(label_w, size * 0.55, label, align=Align.R)
        pdf.cell(value_w, size * 0.55, value, align=Align.R, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(1)


def _heading_style() -> Any:
    from fpdf.fonts import FontFace

    return FontFace(emphasis="BOLD", fill_color=(241, 243, 245))


def _add_fonts(pdf: FPDF) -> None:
    pdf.add_font(FAMILY, "", FONT_DIR / "NotoSans-Regular.ttf")
    pdf.add_font(FAMILY, "B", FONT_DIR / "NotoSans-Bold.ttf")
    for family, stem in _FALLBACKS.items():
        pdf.add_font(family, "", FONT_DIR / f"{stem}-Regular.ttf")
        pdf.add_font(family, "B", FONT_DIR / f"{stem}-Bold.ttf")
    pdf.set_fallback_fonts(list(_FALLBACKS), exact_match=False)
