"""Exports: any KPI table as CSV, and the daily or weekly report as a PDF with bar charts.

``report_view`` reads the KPIs inside the caller's transaction; ``render_report`` lays them out
with the shared PDF layer (no database), so the PDF can be drawn after commit. Charts are
horizontal bars drawn with fpdf2 primitives (no plotly/kaleido needed offline).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.analytics.bi.base import BIFilter, Cell, KpiTable, resolve
from core.analytics.bi.flow import (
    daily_summary,
    doctor_productivity,
    ewt_accuracy,
    no_show_rate,
    peak_hours,
    wait_heatmap,
)
from core.analytics.bi.money import case_mix, ratings, revenue, revenue_by_doctor
from core.billing.money import format_inr
from core.context import Actor
from core.documents.pdf import ClinicHeading, ClinicPDF, Column, amounts_box
from core.errors import ValidationFailed
from db.models import Branch, Tenant

Kind = Literal["daily", "weekly"]
BAR = (37, 99, 235)
TRACK = (229, 231, 235)


def to_csv(table: KpiTable) -> bytes:
    """The table as UTF-8 CSV with a header row (dates ISO, empty cells for missing values)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(table.columns)
    for row in table.rows:
        writer.writerow([_csv_cell(v) for v in row])
    return out.getvalue().encode("utf-8")


def _csv_cell(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value)


@dataclass(frozen=True)
class ReportView:
    """Everything the report prints, read in one transaction."""

    kind: Kind
    clinic: str
    branch: str | None
    start: dt.date
    end: dt.date
    summary: KpiTable
    revenue: KpiTable
    by_doctor: KpiTable
    productivity: KpiTable
    waits: KpiTable
    peaks: KpiTable
    no_shows: KpiTable
    ewt: KpiTable
    case_mix: KpiTable
    ratings: KpiTable


def report_view(
    session: Session,
    actor: Actor,
    *,
    day: dt.date,
    kind: Kind = "daily",
    branch_id: int | None = None,
    department_id: int | None = None,
    doctor_id: int | None = None,
) -> ReportView:
    """Read the day's (or the week ending ``day``'s) KPIs for the report PDF."""
    if kind not in ("daily", "weekly"):
        raise ValidationFailed("The report is daily or weekly", field="kind")
    start = day if kind == "daily" else day - dt.timedelta(days=6)
    f = BIFilter(start, day, branch_id, department_id, doctor_id)
    scope = resolve(session, actor, f)
    clinic = session.scalar(select(Tenant.name).where(Tenant.id == scope.tenant_id)) or ""
    branch = (
        session.scalar(select(Branch.name).where(Branch.id == f.branch_id))
        if f.branch_id is not None
        else None
    )
    return ReportView(
        kind=kind,
        clinic=clinic,
        branch=branch,
        start=start,
        end=day,
        summary=daily_summary(session, actor, f),
        revenue=revenue(session, actor, f),
        by_doctor=revenue_by_doctor(session, actor, f),
        productivity=doctor_productivity(session, actor, f),
        waits=wait_heatmap(session, actor, f),
        peaks=peak_hours(session, actor, f),
        no_shows=no_show_rate(session, actor, f),
        ewt=ewt_accuracy(session, actor, f),
        case_mix=case_mix(session, actor, f, limit=10),
        ratings=ratings(session, actor, f),
    )


def report_pdf(
    session: Session,
    actor: Actor,
    *,
    day: dt.date,
    kind: Kind = "daily",
    branch_id: int | None = None,
    department_id: int | None = None,
    doctor_id: int | None = None,
) -> bytes:
    """The daily or weekly report as PDF bytes (reads, then renders)."""
    view = report_view(
        session,
        actor,
        day=day,
        kind=kind,
        branch_id=branch_id,
        department_id=department_id,
        doctor_id=doctor_id,
    )
    return render_report(view)


def render_report(view: ReportView) -> bytes:
    """Lay out the report: headline figures, money by mode, charts, doctors, case mix."""
    pdf = ClinicPDF(
        ClinicHeading(view.clinic, view.branch),
        footer_text="QLink owner's report: figures from the clinic's own records",
    )
    if view.kind == "daily":
        pdf.title_line(f"Daily report · {view.end:%A %d %B %Y}")
    else:
        pdf.title_line(f"Weekly report · {view.start:%d %b} to {view.end:%d %b %Y}")
    s, money = view.summary.summary, view.revenue.summary
    waits, ewt = view.waits.summary, view.ewt.summary
    pdf.facts(
        [
            ("Appointments", f"{s.get('appointments', 0)}"),
            ("Completed", f"{s.get('completed', 0)}"),
            ("Cancelled", f"{s.get('cancelled', 0)}"),
            ("No-shows", f"{s.get('no_show', 0)}"),
            ("Walk-ins", f"{s.get('walk_ins', 0)}"),
            ("Average wait", _minutes(waits.get("avg_wait_min"))),
            (
                "Wait estimates",
                f"off by {_minutes(ewt.get('mae_estimate_min'))} on average "
                f"(a flat guess: {_minutes(ewt.get('mae_naive_min'))})",
            ),
            ("Rating", _rating(view.ratings.summary)),
        ],
        label_width=34,
    )
    total = _int(money.get("total_minor"))
    pdf.title_line("Collection", size=11)
    amounts_box(
        pdf,
        [
            (
                f"Cash ({money.get('cash_pct') or 0}%)",
                format_inr(_int(money.get("cash_minor"))),
                False,
            ),
            (
                f"Card ({money.get('card_pct') or 0}%)",
                format_inr(_int(money.get("card_minor"))),
                False,
            ),
            (
                f"UPI ({money.get('upi_pct') or 0}%)",
                format_inr(_int(money.get("upi_minor"))),
                False,
            ),
            ("Total collection", format_inr(total), True),
        ],
    )
    if view.kind == "weekly" and view.revenue.rows:
        bar_chart(
            pdf,
            "Collection per day",
            [_day(r[0]) for r in view.revenue.rows],
            [_int(r[-1]) for r in view.revenue.rows],
            lambda v: format_inr(int(v)),
        )
    if view.peaks.rows:
        bar_chart(
            pdf,
            "When patients arrive (per day, by hour)",
            [f"{_int(r[0]):02d}:00" for r in view.peaks.rows],
            [_num(r[1]) for r in view.peaks.rows],
            lambda v: f"{v:g}",
        )
    pdf.title_line("Doctors", size=11)
    pdf.grid(
        (
            Column("Doctor", 5),
            Column("Patients", 2, "R"),
            Column("Consulting", 2, "R"),
            Column("Scheduled", 2, "R"),
            Column("Collected", 3, "R"),
        ),
        _doctor_rows(view),
    )
    if view.case_mix.rows:
        pdf.title_line("Case mix (primary diagnoses)", size=11)
        pdf.grid(
            (Column("ICD-10", 1.4), Column("Diagnosis", 6), Column("Cases", 1.2, "R")),
            [(str(r[0]), str(r[1]), str(r[2])) for r in view.case_mix.rows],
        )
    rate = view.no_shows.summary.get("rate_pct")
    pdf.title_line("No-shows by how far ahead they booked", size=11)
    pdf.grid(
        (Column("Booked", 3), Column("Appointments", 2, "R"), Column("No-show rate", 2, "R")),
        [(str(r[0]), str(r[1]), f"{r[3]}%") for r in view.no_shows.rows]
        + [("All", str(view.no_shows.summary.get("appointments", 0)), f"{rate or 0}%")],
    )
    return pdf.render()


def _doctor_rows(view: ReportView) -> list[tuple[str, str, str, str, str]]:
    money = {str(r[0]): _int(r[2]) for r in view.by_doctor.rows}
    rows = []
    for r in view.productivity.rows:
        name = str(r[0])
        rows.append(
            (
                name,
                str(r[1]),
                _minutes(r[2]),
                _minutes(r[3]),
                format_inr(money.pop(name, 0)),
            )
        )
    rows += [(name, "", "", "", format_inr(total)) for name, total in money.items()]
    return rows


def _minutes(value: Cell) -> str:
    if value is None:
        return "-"
    minutes = round(_num(value))
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


def _num(value: Cell) -> float:
    return float(value) if isinstance(value, int | float) else 0.0


def _int(value: Cell) -> int:
    return int(value) if isinstance(value, int | float) else 0


def _day(value: Cell) -> str:
    return f"{value:%a %d}" if isinstance(value, dt.date) else str(value)


def _rating(summary: dict[str, Cell]) -> str:
    n = summary.get("ratings") or 0
    return f"{summary.get('avg_score')} of 5 from {n} patients" if n else "no ratings yet"


def bar_chart(
    pdf: ClinicPDF,
    title: str,
    labels: Sequence[str],
    values: Sequence[float],
    fmt: Callable[[float], str],
) -> None:
    """Horizontal bars, one line per label, scaled to the largest value, the value at the end."""
    pdf.title_line(title, size=10)
    top = max(values, default=0) or 1
    label_w, value_w = 24.0, 30.0
    bar_w = pdf.epw - label_w - value_w
    height = 4.2
    for label, value in zip(labels, values, strict=True):
        if pdf.will_page_break(height + 1):
            pdf.add_page()
        y = pdf.get_y()
        pdf.set_font("NotoSans", "", 8)
        pdf.cell(label_w, height, label)
        pdf.set_fill_color(*TRACK)
        pdf.rect(pdf.l_margin + label_w, y + 0.6, bar_w, height - 1.2, style="F")
        pdf.set_fill_color(*BAR)
        width = max(0.4, bar_w * value / top)
        pdf.rect(pdf.l_margin + label_w, y + 0.6, width, height - 1.2, style="F")
        pdf.set_x(pdf.l_margin + label_w + bar_w + 1)
        pdf.cell(value_w - 1, height, fmt(value), align="R")
        pdf.ln(height)
    pdf.set_fill_color(255, 255, 255)  # tables drawn next must not inherit the bar colour
    pdf.ln(2)
