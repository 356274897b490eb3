"""The doctor app's look: the queue column, the patient header and the allergy banner."""

from __future__ import annotations

from html import escape

import streamlit as st

from core.clinical.medicines import MedicineLine, timing_label

_CSS = """
<style>
[data-testid="stMainBlockContainer"] { padding-top: 1.6rem; }  /* one page: no top navigation */
.qd-head { display: flex; gap: .5rem; align-items: baseline; flex-wrap: wrap; margin: 0; }
.qd-head b { font-size: 1.05rem; }
.qd-q { border: 1px solid #cbd5e1; border-radius: .45rem; padding: .25rem .45rem;
  font-size: .84rem; line-height: 1.35rem; background: #fff; margin-bottom: .4rem; }
.qd-q .qd-row { display: grid; grid-template-columns: 4.6em 1fr auto; gap: .35rem;
  align-items: center; border-bottom: 1px solid #f1f5f9; }
.qd-q .qd-row:last-child { border-bottom: 0; }
.qd-q .qd-mark { grid-column: 2 / 4; line-height: 1.1rem; margin: -.15rem 0 .2rem 0; }
.qd-code { font-weight: 700; font-variant-numeric: tabular-nums; }
.qd-who { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.qd-eta { font-size: .75rem; color: #475569; font-variant-numeric: tabular-nums; }
.qd-title { font-size: .78rem; font-weight: 700; color: #334155; text-transform: uppercase;
  letter-spacing: .03em; margin: .2rem 0 .1rem 0; }
.qd-patient { border-left: 5px solid #b45309; background: #fffbeb; border-radius: .4rem;
  padding: .3rem .7rem; margin-bottom: .4rem; }
.qd-patient .qd-name { font-size: 1.3rem; font-weight: 800; color: #0f172a; }
.qd-patient .qd-facts { font-size: .9rem; color: #334155; }
.qd-allergy { background: #fef2f2; border: 2px solid #b91c1c; color: #991b1b; font-weight: 700;
  border-radius: .4rem; padding: .25rem .6rem; margin-bottom: .35rem; }
.qd-noallergy { color: #166534; font-weight: 600; font-size: .88rem; margin-bottom: .3rem; }
.qd-facts-list { font-size: .86rem; line-height: 1.35rem; margin: 0 0 .3rem 0; }
.qd-visit { border-left: 3px solid #94a3b8; padding: .1rem .5rem; margin: 0 0 .35rem .2rem;
  font-size: .84rem; line-height: 1.3rem; }
.qd-visit b { color: #0f172a; }
.qd-muted { color: #64748b; font-size: .8rem; }
table.qd-results { width: 100%; border-collapse: collapse; font-size: .82rem; margin: 0 0 .4rem 0;
  line-height: 1.25rem; }
table.qd-results th { text-align: left; font-weight: 600; color: #475569; font-size: .74rem;
  border-bottom: 1px solid #cbd5e1; padding: 0 .3rem 0 0; }
table.qd-results td { padding: .05rem .3rem .05rem 0; border-bottom: 1px solid #f1f5f9;
  font-variant-numeric: tabular-nums; }
table.qd-results tr.qd-abnormal td { color: #b91c1c; font-weight: 700; background: #fef2f2; }
table.qd-results td:nth-child(3), table.qd-results td:nth-child(4) { white-space: nowrap; }
.qd-doc { font-size: .82rem; line-height: 1.2rem; }
[data-testid="stPopoverBody"]:has(.qd-docs) { min-width: 34rem; }
</style>
"""

KIND_LABEL = {
    "walk_in": "",
    "booked": "booked",
    "follow_up": "follow-up",
    "emergency": "EMERGENCY",
    "lab_return": "back from lab",
    "vip": "VIP",
    "priority": "priority",
}
KIND_COLOUR = {"emergency": "#b91c1c", "lab_return": "#6d28d9", "priority": "#b45309"}


def doctor_style() -> None:
    """Add the doctor app's styles to the shared compact look."""
    st.markdown(_CSS, unsafe_allow_html=True)


def kind_tag(kind: str) -> str:
    """Return a small coloured tag for a token kind that changes how urgent it is ('' if none)."""
    label = KIND_LABEL.get(kind, kind)
    if not label:
        return ""
    colour = KIND_COLOUR.get(kind, "#475569")
    return f'<span class="ql-chip" style="background:{colour};color:#fff">{escape(label)}</span>'


def medicine_text(line: MedicineLine) -> str:
    """One prescription line as a doctor writes it: 'Ibuprofen 400mg 1-0-1 after food × 7 d'."""
    parts = [line.medicine, line.strength or "", line.dosage_pattern]
    if line.timing:
        parts.append(timing_label(line.timing).lower())
    if line.duration_days:
        parts.append(f"× {line.duration_days} d")
    return " ".join(p for p in parts if p)
