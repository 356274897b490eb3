"""Shared look of the staff apps: compact layout, status colours and the doctor day card."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

import streamlit as st

from core.scheduling.day_view import FREE, BoardRow, DayBoard, DoctorDay


@dataclass(frozen=True)
class StatusStyle:
    label: str
    glyph: str  # tells statuses apart without relying on colour
    background: str
    colour: str


# White text on these backgrounds passes WCAG AA (contrast 4.5:1 or better).
STATUS_STYLE: dict[str, StatusStyle] = {
    FREE: StatusStyle("Free", "", "#ffffff", "#1e293b"),
    "scheduled": StatusStyle("Scheduled", "○", "#4b5563", "#ffffff"),
    "checked_in": StatusStyle("Checked in", "●", "#15803d", "#ffffff"),
    "in_consultation": StatusStyle("In consultation", "▶", "#b45309", "#ffffff"),
    "completed": StatusStyle("Completed", "✓", "#1d4ed8", "#ffffff"),
    "no_show": StatusStyle("No-show", "✕", "#b91c1c", "#ffffff"),
}

_CSS = """
<style>
[data-testid="stMainBlockContainer"] { padding: 3.6rem 1.5rem 1rem 1.5rem; }
[data-testid="stSidebarContent"] { padding-top: 0.5rem; }
.ql-sub { font-size: 1rem; font-weight: 500; color: #334155; margin-left: .6rem; }
.ql-legend { display: flex; flex-wrap: wrap; gap: .3rem .5rem; align-items: center;
  margin: -.4rem 0 .6rem 0; }
.ql-chip { display: inline-block; padding: 0 .55em; border-radius: .6em; font-size: .78rem;
  font-weight: 600; line-height: 1.4rem; white-space: nowrap; }
.ql-chip.free, .ql-row.free { border: 1px dashed #64748b; }
.ql-card { border: 1px solid #cbd5e1; border-radius: .5rem; background: #fff; }
.ql-card h4 { font-size: .95rem; line-height: 1.25rem; margin: 0; padding: .4rem .5rem 0 .5rem;
  color: #0f172a; }
.ql-card .ql-meta { font-size: .76rem; line-height: 1.05rem; color: #334155;
  padding: .1rem .5rem .35rem .5rem; border-bottom: 1px solid #e2e8f0; }
.ql-rows { max-height: calc(100vh - 250px); overflow-y: auto; padding: .25rem .3rem; }
.ql-row { display: grid; grid-template-columns: 2.7em 1fr auto; gap: .3rem; align-items: center;
  margin-bottom: 2px; padding: 0 .35rem; border-radius: .35rem; font-size: .82rem;
  line-height: 1.4rem; }
.ql-row .ql-time { font-variant-numeric: tabular-nums; font-weight: 700; }
.ql-row .ql-who { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.ql-row .ql-code { font-size: .72rem; font-variant-numeric: tabular-nums; opacity: .9; }
.ql-row.free .ql-who { color: #475569; }
.ql-row.past.free { opacity: .45; }
.ql-lane { border: 1px solid #cbd5e1; border-left: 4px solid #1d4ed8; border-radius: .45rem;
  padding: .3rem .5rem; font-size: .85rem; line-height: 1.45rem; background: #fff;
  margin-bottom: 1.1rem; }
.ql-lane-head { display: flex; gap: .4rem; align-items: center; flex-wrap: wrap; }
.ql-lane-head .ql-sub { font-size: .8rem; margin-left: 0; }
.ql-count { margin-left: auto; font-weight: 700; font-variant-numeric: tabular-nums; }
.ql-line { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.ql-slip { border: 2px dashed #0f172a; border-radius: .5rem; padding: .35rem .7rem;
  font-size: .9rem; line-height: 1.35rem; }
.ql-slip-code { font-size: 2rem; font-weight: 800; line-height: 2.3rem;
  font-variant-numeric: tabular-nums; }
.ql-note { color: #92400e; font-weight: 600; }
a.ql-signin, a.ql-signout { display: inline-block; padding: .35rem .9rem; border-radius: .4rem;
  border: 1px solid #1d4ed8; color: #1d4ed8; font-weight: 600; text-decoration: none; }
a.ql-signin { background: #1d4ed8; color: #fff; }
</style>
"""


def compact_style() -> None:
    """Tighten Streamlit's default spacing so the desk fits a laptop screen."""
    st.markdown(_CSS, unsafe_allow_html=True)


def chip(status: str, text: str | None = None) -> str:
    """Return the HTML of a colour-coded status chip."""
    style = STATUS_STYLE.get(status, StatusStyle(status, "", "#e2e8f0", "#0f172a"))
    css = "ql-chip free" if status == FREE else "ql-chip"
    label = text or " ".join(part for part in (style.glyph, style.label) if part)
    colours = f"background:{style.background};color:{style.colour}"
    return f'<span class="{css}" style="{colours}">{escape(label)}</span>'


def legend(board: DayBoard) -> str:
    """Return the status legend with the day's count of each status."""
    totals = board.totals()
    items = "".join(
        chip(status, f"{style.glyph} {style.label}: {totals[status]}".strip())
        for status, style in STATUS_STYLE.items()
    )
    return f'<div class="ql-legend">{items}</div>'


def doctor_card(day: DoctorDay) -> str:
    """Return the HTML card of one doctor's day: header, then one coloured line per row."""
    meta = " · ".join(
        part for part in (day.department, day.room, f"₹{day.fee_minor // 100:,}") if part
    )
    rows = "".join(_row(r) for r in day.rows)
    return (
        f'<div class="ql-card"><h4>{escape(day.name)}</h4>'
        f'<div class="ql-meta">{escape(meta)}</div>'
        f'<div class="ql-rows">{rows}</div></div>'
    )


def _row(row: BoardRow) -> str:
    style = STATUS_STYLE.get(row.status, STATUS_STYLE["scheduled"])
    if row.status == FREE:
        who = "passed" if row.past else "free"
        if row.seats_left > 1 and not row.past:
            who = f"free · {row.seats_left} seats"
        right = ""
    else:
        who = f"{style.glyph} {escape(row.patient_name or '')}"
        right = f'<span class="ql-code">{escape(row.patient_code or "")}</span>'
    css = " ".join(["ql-row"] + ["free"] * (row.status == FREE) + ["past"] * row.past)
    colours = f"background:{style.background};color:{style.colour}"
    return (
        f'<div class="{css}" style="{colours}" title="{escape(style.label)}">'
        f'<span class="ql-time">{row.label}</span><span class="ql-who">{who}</span>{right}</div>'
    )
