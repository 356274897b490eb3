"""What the console's pages share: the clinic-only gate, the filter bar, KPI calls and tables.

The filter (dates, branch, department, doctor) is kept in the session, so moving from the
overview to a drill-down keeps the same scope. KPIs are read through one process-wide
``KpiCache`` (refreshed by the clinic's next queue event or the next minute).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any

import pandas as pd
import streamlit as st

from apps.common import auth
from apps.common.runtime import Runtime, runtime
from apps.common.signin_routes import LOGOUT
from core.analytics.bi import BIFilter, KpiCache, KpiTable, highest_risk_upcoming
from core.analytics.choices import FilterChoices, filter_choices
from core.billing.money import format_inr
from core.errors import DomainError

PERIODS = {
    "Today": 1,
    "Last 7 days": 7,
    "Last 30 days": 30,
    "Last 90 days": 90,
    "Last 12 months": 365,
    "Custom dates": 0,
}
DEFAULT_PERIOD = "Last 30 days"
ALL = 0  # the "All …" entry of a select box


@st.cache_resource(show_spinner=False)
def kpi_cache() -> KpiCache:
    return KpiCache()


def clinic_staff() -> auth.Staff:
    """The signed-in clinic admin; the platform admin (no clinic) is told where to look."""
    staff = auth.current()
    if staff.actor.tenant_id is None or staff.desk is None:
        st.info("Clinic figures are for a clinic's admin. The platform admin has the audit log.")
        st.stop()
    return staff


def today(staff: auth.Staff) -> dt.date:
    assert staff.desk is not None
    return staff.desk.today


def _kept(name: str, default: Any, page: str) -> str:
    """A widget key seeded from the value kept for the session.

    Widgets forget their value when another page runs, and a key reused on another page is a
    new widget; so each page has its own keys, seeded from the kept value.
    """
    key = f"qlink_biw_{page}_{name}"
    if key not in st.session_state:
        st.session_state[key] = st.session_state.get(f"qlink_bi_{name}", default)
    return key


def _keep(name: str, value: Any) -> Any:
    st.session_state[f"qlink_bi_{name}"] = value
    return value


def choices(rt: Runtime, staff: auth.Staff) -> FilterChoices:
    with rt.db.transaction(staff.actor.tenant_id, readonly=True) as session:
        return filter_choices(session, staff.actor)


def filter_bar(rt: Runtime, staff: auth.Staff, page: str, *, doctor: bool = True) -> BIFilter:
    """The period, branch, department and doctor pickers in one row; returns the filter."""
    opts = choices(rt, staff)
    day = today(staff)
    cols = st.columns([1.3, 1.1, 1.1, 1.1] if doctor else [1.3, 1.1, 1.1])
    period = cols[0].selectbox("Period", list(PERIODS), key=_kept("period", DEFAULT_PERIOD, page))
    _keep("period", period)
    if PERIODS[period]:
        start, end = day - dt.timedelta(days=PERIODS[period] - 1), day
    else:
        picked = st.date_input(
            "From – to",
            key=_kept("dates", (day - dt.timedelta(days=29), day), page),
            max_value=day + dt.timedelta(days=60),
        )
        _keep("dates", picked)
        dates = tuple(picked) if isinstance(picked, tuple | list) else (picked,)
        start = dates[0] if dates else day
        end = dates[1] if len(dates) > 1 else start
    branch = _pick(cols[1], "Branch", "All branches", opts.branches, "branch", page)
    departments = opts.departments_of(branch)
    department = _pick(cols[2], "Department", "All departments", departments, "department", page)
    doctor_id = None
    if doctor:
        ids = {department} if department else {d.id for d in departments} if branch else None
        doctor_id = _pick(cols[3], "Doctor", "All doctors", opts.doctors_of(ids), "doctor", page)
    return BIFilter(start, end, branch, department, doctor_id)


def _pick(
    col: Any, label: str, every: str, items: Iterable[Any], name: str, page: str
) -> int | None:
    names = {ALL: every} | {c.id: c.name for c in items}
    key = _kept(name, ALL, page)
    if st.session_state[key] not in names:
        st.session_state[key] = ALL
    value = col.selectbox(label, list(names), format_func=names.__getitem__, key=key)
    _keep(name, value)
    return int(value) or None


def span_label(f: BIFilter) -> str:
    if f.start == f.end:
        return f"{f.start:%a %d %b %Y}"
    return f"{f.start:%d %b %Y} – {f.end:%d %b %Y} ({f.days} days)"


def read(rt: Runtime, staff: auth.Staff, kpi: Callable[..., Any], *args: Any, **kw: Any) -> Any:
    """One KPI in a read-only transaction; a domain error is shown and None returned."""
    try:
        with rt.db.transaction(staff.actor.tenant_id, readonly=True) as session:
            return kpi(session, staff.actor, *args, **kw)
    except DomainError as exc:
        st.error(exc.message)
        return None


def cached(rt: Runtime, staff: auth.Staff, kpi: Callable[..., Any], f: BIFilter, **kw: Any) -> Any:
    return read(rt, staff, kpi, f, cache=kpi_cache(), **kw)


def question(text: str, note: str = "") -> None:
    """The question a chart or table answers, written above it."""
    st.markdown(f"##### {text}")
    if note:
        st.caption(note)


def rupees(minor: Any) -> str:
    """Whole rupees, Indian grouping: ₹3,72,82,514 (an owner's figure, not a receipt)."""
    return format_inr(round(int(minor or 0) / 100) * 100).removesuffix(".00")


def frame(
    table: KpiTable, labels: dict[str, str] | None = None, money: Iterable[str] = ()
) -> pd.DataFrame:
    """The table as a DataFrame: money columns in whole rupees, columns renamed for people."""
    df = pd.DataFrame(table.records(), columns=list(table.columns))
    for column in money:
        if column in df:
            df[column] = (df[column].fillna(0).astype(int) / 100).round().astype(int)
    return df.rename(columns=labels or {})


def show_table(
    df: pd.DataFrame, name: str, *, empty: str = "Nothing in this period.", height: Any = "auto"
) -> None:
    """The table with a CSV download of exactly what is shown."""
    if df.empty:
        st.caption(empty)
        return
    st.dataframe(df, hide_index=True, height=height)
    st.download_button(
        "Download CSV",
        df.to_csv(index=False).encode(),
        file_name=f"{name}.csv",
        mime="text/csv",
        key=f"csv_{name}",
        icon=":material/download:",
    )


def page(title: str, name: str) -> tuple[Runtime, auth.Staff, BIFilter]:
    """A drill-down's header: title, the shared filter bar; returns what the page needs."""
    rt = runtime()
    staff = clinic_staff()
    st.markdown(f"### {title}")
    f = filter_bar(rt, staff, name)
    st.caption(f"{span_label(f)} · the filter is shared by every page")
    return rt, staff, f


_CONSOLE_CSS = """
<style>
[data-testid="stMainBlockContainer"] { padding-top: 1.6rem; }
[data-testid="stMetricValue"] { font-size: 1.9rem; }
</style>
"""


def console_style() -> None:
    """Less room above the title than the desk apps (no toolbar row to clear here)."""
    st.markdown(_CONSOLE_CSS, unsafe_allow_html=True)


def sidebar(staff: auth.Staff) -> None:
    """Who is signed in and the sign-out link (no desk branch switcher: the filters narrow)."""
    desk = staff.desk
    who = f"**{desk.user_name}**  \n{desk.clinic_name}" if desk else f"**{staff.actor.label}**"
    st.markdown(who)
    st.caption(f"Signed in as {staff.role_name}")
    st.markdown(
        f'<a class="ql-signout" href="{LOGOUT}" target="_self">Sign out</a>',
        unsafe_allow_html=True,
    )


@st.cache_data(ttl=3600, max_entries=64, show_spinner=False)
def _no_show_risk(
    tenant_id: int, user_id: int | None, scope: tuple[Any, ...], today: dt.date, _rt: Runtime
) -> KpiTable:
    staff = auth.current()
    f = BIFilter(*scope)
    with _rt.db.transaction(tenant_id, readonly=True) as session:
        result: KpiTable = highest_risk_upcoming(
            session, staff.actor, f, today=today, cache=kpi_cache()
        )
    return result


def no_show_risk(rt: Runtime, staff: auth.Staff, f: BIFilter) -> KpiTable | None:
    """The model's riskiest upcoming appointments, kept for an hour per clinic and filter.

    The no-show model is fitted once a day per clinic (``kpi_cache``, keyed by the day) and
    shared by every filter; the hour-long cache keeps the scores of a filter.
    """
    scope = (f.start, f.end, f.branch_id, f.department_id, f.doctor_id)
    try:
        with st.spinner("Scoring the coming week's appointments (slow the first time a day)…"):
            return _no_show_risk(
                staff.actor.tenant_id, staff.actor.user_id, scope, today(staff), rt
            )
    except DomainError as exc:
        st.error(exc.message)
        return None
