"""Drill-down: what the lab runs and how long results take."""

from __future__ import annotations

from apps.admin_bi import charts, kit
from core.analytics import bi

rt, staff, f = kit.page("Lab", "lab")

table = kit.cached(rt, staff, bi.lab_volumes, f)
if table is not None:
    s = table.summary
    kit.question(table.question, f"{s.get('ordered')} ordered · {s.get('resulted')} resulted")
    rows = table.rows[:15]
    if rows:
        fig = charts.horizontal(
            [r[0] for r in rows], [r[3] or 0 for r in rows], "average turnaround (min)", "#b45309"
        )
        charts.show(fig, "lab_turnaround", height=max(160, 30 * len(rows) + 60))
    df = kit.frame(
        table,
        {
            "test": "Test",
            "ordered": "Ordered",
            "resulted": "Resulted",
            "avg_turnaround_min": "Avg turnaround (min)",
            "max_turnaround_min": "Longest (min)",
        },
    )
    kit.show_table(df, "lab_volumes")
