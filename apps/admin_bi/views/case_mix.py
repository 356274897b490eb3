"""Drill-down: what we treat most (primary diagnoses)."""

from __future__ import annotations

from apps.admin_bi import charts, kit
from core.analytics import bi

rt, staff, f = kit.page("Case mix", "case_mix")

table = kit.cached(rt, staff, bi.case_mix, f)
if table is not None:
    kit.question(table.question, table.note)
    rows = table.rows[:12]
    if rows:
        labels = [f"{r[0]} {r[1]}".strip()[:48] for r in rows]
        fig = charts.horizontal(labels, [r[2] for r in rows], "cases", "#7c3aed")
        charts.show(fig, "case_mix", height=max(160, 28 * len(rows) + 60))
    df = kit.frame(
        table,
        {"icd10": "ICD-10", "diagnosis": "Diagnosis", "cases": "Cases", "share_pct": "Share %"},
    )
    kit.show_table(df, "case_mix")
