"""Drill-down: which appointment hours fill first."""

from __future__ import annotations

import plotly.graph_objects as go

from apps.admin_bi import charts, kit
from core.analytics import bi

rt, staff, f = kit.page("Popular slots", "slots")

table = kit.cached(rt, staff, bi.popular_slots, f)
if table is not None:
    kit.question(table.question, "appointments not cancelled, by the slot's weekday and hour")
    if table.rows:
        hours = sorted({int(h) for h in table.column("hour")})  # type: ignore[call-overload]
        days = [d for d in charts.WEEKDAYS if d in set(table.column("weekday"))]
        grid = {(r[0], r[1]): r[2] for r in table.rows}
        fig = go.Figure(
            go.Heatmap(
                z=[[grid.get((d, h), 0) for h in hours] for d in days],
                x=[f"{h:02d}:00" for h in hours],
                y=[d[:3] for d in days],
                colorscale="Blues",
                colorbar={"title": {"text": "booked"}, "thickness": 10},
                xgap=1,
                ygap=1,
            )
        )
        fig.update_yaxes(autorange="reversed")
        charts.show(fig, "slots")
    df = kit.frame(table, {"weekday": "Weekday", "hour": "Hour", "appointments": "Appointments"})
    kit.show_table(df, "popular_slots")
