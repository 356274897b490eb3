"""Plotly figures for the console: one small figure per question, compact for a laptop screen."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
import streamlit as st

from core.analytics.bi import KpiTable

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MODE_COLOURS = {"cash": "#15803d", "card": "#1d4ed8", "upi": "#b45309"}
HEIGHT = 260


def show(fig: go.Figure, key: str, height: int = HEIGHT) -> None:
    fig.update_layout(
        height=height,
        margin={"l": 8, "r": 8, "t": 8, "b": 8},
        legend={"orientation": "h", "y": 1.12, "x": 0},
        hovermode="x unified",
    )
    st.plotly_chart(fig, key=key, config={"displaylogo": False, "displayModeBar": False})


def footfall(table: KpiTable) -> go.Figure:
    fig = go.Figure()
    fig.add_bar(
        x=table.column("day"), y=table.column("visits"), name="Visits", marker_color="#1d4ed8"
    )
    fig.add_scatter(
        x=table.column("day"),
        y=table.column("usual"),
        name="Usual for that weekday",
        mode="lines",
        line={"color": "#0f172a", "dash": "dot"},
    )
    fig.update_yaxes(title_text="patients")
    return fig


def wait_heatmap(table: KpiTable) -> go.Figure:
    hours = sorted({int(h) for h in table.column("hour") if h is not None})
    days = [d for d in WEEKDAYS if d in set(table.column("weekday"))]
    grid: dict[tuple[Any, Any], Any] = {
        (r["weekday"], r["hour"]): r["avg_wait_min"] for r in table.records()
    }
    z = [[grid.get((d, h)) for h in hours] for d in days]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=[f"{h:02d}:00" for h in hours],
            y=[d[:3] for d in days],
            colorscale="YlOrRd",
            colorbar={"title": {"text": "min"}, "thickness": 10},
            hovertemplate="%{y} %{x}: %{z} min<extra></extra>",
            xgap=1,
            ygap=1,
        )
    )
    fig.update_yaxes(autorange="reversed")
    return fig


def peaks(history: KpiTable, forecast: KpiTable) -> go.Figure:
    fig = go.Figure()
    fig.add_bar(
        x=[f"{h:02d}" for h in history.column("hour")],  # type: ignore[str-format]
        y=history.column("arrivals_per_day"),
        name="Average arrivals (period)",
        marker_color="#94a3b8",
    )
    if forecast.rows:
        expected = forecast.column("expected")
        fig.add_scatter(
            x=[f"{h:02d}" for h in forecast.column("hour")],  # type: ignore[str-format]
            y=expected,
            name="Expected tomorrow",
            mode="lines+markers",
            line={"color": "#b91c1c"},
            error_y={
                "type": "data",
                "symmetric": False,
                "array": [h - e for h, e in zip(forecast.column("high"), expected, strict=True)],  # type: ignore[operator]
                "arrayminus": [
                    e - lo for lo, e in zip(forecast.column("low"), expected, strict=True)
                ],  # type: ignore[operator]
                "thickness": 1,
            },
        )
    fig.update_xaxes(type="category", title_text="hour of arrival")
    fig.update_yaxes(title_text="patients")
    return fig


def rupee_scale(largest_rupees: float) -> tuple[float, str]:
    """Divide by a lakh (1,00,000) when amounts run into lakhs, as owners in India read them."""
    return (100_000.0, "₹ lakh") if largest_rupees >= 100_000 else (1.0, "₹")


def revenue_by_mode(table: KpiTable, period: str) -> go.Figure:
    fig = go.Figure()
    totals = [int(v or 0) / 100 for v in table.column("total_minor")]  # type: ignore[call-overload]
    scale, unit = rupee_scale(max(totals, default=0))
    for mode, colour in MODE_COLOURS.items():
        column = f"{mode}_minor"
        if column in table.columns:
            fig.add_bar(
                x=table.column(period),
                y=[int(v or 0) / 100 / scale for v in table.column(column)],  # type: ignore[call-overload]
                name=mode.upper() if mode == "upi" else mode.capitalize(),
                marker_color=colour,
            )
    fig.update_layout(barmode="stack")
    fig.update_yaxes(title_text=unit, tickformat=",.1f" if scale > 1 else ",.0f")
    return fig


def horizontal(
    labels: list[Any], values: list[Any], unit: str, colour: str, text: list[str] | None = None
) -> go.Figure:
    fig = go.Figure(
        go.Bar(
            x=values,
            y=labels,
            orientation="h",
            marker_color=colour,
            text=text,
            texttemplate=None if text else "%{x:,.0f}",
            hoverinfo="y+text" if text else None,
        )
    )
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(title_text=unit, tickformat=",.0f")
    return fig
