"""Configuration: branches and departments, queue priorities, the priority cap, allocation and
the wait-estimate window. Every change is audited in core."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from apps.admin_bi.config_kit import command, page, read
from core import clinic_config, tenancy
from core.queue.allocation import STRATEGIES
from core.queue.scoring import DEFAULT_WEIGHTS


def _label(strategy: str) -> str:
    return strategy.replace("_", " ")


rt, staff = page("Clinic set-up")
branches = read(rt, staff, clinic_config.clinic_structure)

st.markdown("##### Branches and departments")
st.dataframe(
    pd.DataFrame(
        [
            {
                "Branch": b.name,
                "Department": f"{d.code} · {d.name}",
                "Allocation": d.allocation_strategy.replace("_", " "),
                "Open": "yes" if (b.active and d.active) else "closed",
            }
            for b in branches
            for d in b.departments
        ]
        or [{"Branch": b.name, "Department": "—", "Allocation": "", "Open": ""} for b in branches]
    ),
    hide_index=True,
    width="stretch",
)
names = {b.id: b.name for b in branches}
left, right = st.columns(2)
with left.form("edit_branch"):
    st.markdown("**Edit a branch**")
    bid = st.selectbox("Branch", list(names), format_func=names.__getitem__, key="cfg_branch")
    current = next(b for b in branches if b.id == bid)
    name = st.text_input("Name", current.name, key="cfg_branch_name")
    address = st.text_input("Address", current.address or "", key="cfg_branch_address")
    open_ = st.checkbox("Open", current.active, key="cfg_branch_open")
    if st.form_submit_button("Save branch"):
        command(
            rt,
            staff,
            "Branch saved.",
            clinic_config.edit_branch,
            branch_id=bid,
            name=name,
            address=address,
            active=open_,
        )
with right.form("add_department"):
    st.markdown("**Add a department**")
    dbranch = st.selectbox(
        "At branch", list(names), format_func=names.__getitem__, key="cfg_dept_branch"
    )
    code = st.text_input("Token prefix (2-6 letters)", key="cfg_dept_code")
    dname = st.text_input("Name", key="cfg_dept_name")
    strategy = st.selectbox(
        "Allocation of walk-ins", STRATEGIES, format_func=_label, key="cfg_dept_strategy"
    )
    if st.form_submit_button("Add department"):
        command(
            rt,
            staff,
            f"Department {code.upper()} added.",
            tenancy.create_department,
            branch_id=dbranch,
            code=code,
            name=dname,
            allocation_strategy=strategy,
        )

depts = {d.id: f"{d.code} · {d.name}" for b in branches for d in b.departments}
if depts:
    with st.form("strategy"):
        st.markdown("**How walk-ins are given a doctor**")
        did = st.selectbox(
            "Department", list(depts), format_func=depts.__getitem__, key="cfg_alloc_dept"
        )
        chosen = st.selectbox("Strategy", STRATEGIES, format_func=_label, key="cfg_alloc_strategy")
        if st.form_submit_button("Save allocation"):
            command(
                rt,
                staff,
                "Allocation saved.",
                tenancy.set_allocation_strategy,
                department_id=did,
                strategy=chosen,
            )

st.markdown("##### Queue priorities, cap and wait-estimate window")
st.caption(
    "A higher weight moves a patient up the line; emergencies always go first. The cap lets "
    "one regular patient through after that many priority patients in a row. The wait estimate "
    "averages each doctor's last consultations (the window)."
)
rules = read(rt, staff, clinic_config.queue_rules)
with st.form("queue_rules"):
    cols = st.columns(3)
    weights = {
        kind: cols[i % 3].number_input(
            kind.replace("_", " ").capitalize(),
            0,
            500,
            int(rules.weights[kind]),
            key=f"cfg_w_{kind}",
        )
        for i, kind in enumerate(k for k in DEFAULT_WEIGHTS if k != "emergency")
    }
    cap = cols[0].number_input("Priority cap (every N)", 1, 100, rules.cap_every, key="cfg_cap")
    window = cols[1].number_input(
        "EWT window (consultations)", 1, 50, rules.rolling_window, key="cfg_window"
    )
    shift = cols[2].number_input(
        "Tell patients when ETA moves by (min)", 1, 240, rules.eta_shift_minutes, key="cfg_shift"
    )
    if st.form_submit_button("Save queue rules"):
        command(
            rt,
            staff,
            "Queue rules saved; the next token uses them.",
            clinic_config.update_queue_settings,
            changes={
                "priority_weights": {k: int(v) for k, v in weights.items()},
                "cap_every": int(cap),
                "rolling_window": int(window),
                "eta_shift_minutes": int(shift),
            },
        )
