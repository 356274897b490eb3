"""Drill-down: how patients rate each doctor, and what they write."""

from __future__ import annotations

import streamlit as st

from apps.admin_bi import kit
from core.analytics import bi

rt, staff, f = kit.page("Ratings", "ratings")

table = kit.cached(rt, staff, bi.ratings, f)
if table is not None:
    s = table.summary
    kit.question(table.question, f"{s.get('ratings')} ratings · average {s.get('avg_score')}")
    df = kit.frame(
        table,
        {
            "doctor": "Doctor",
            "ratings": "Ratings",
            "avg_score": "Average (1-5)",
            "low_scores": "Low (1-2)",
            "with_feedback": "With comments",
        },
    )
    kit.show_table(df, "ratings")

low = st.toggle("Only low scores (1-2)", key="qlink_bi_low_only")
feedback = kit.read(rt, staff, bi.recent_feedback, f, low_only=low)
if feedback is not None:
    kit.question(feedback.question)
    df = kit.frame(
        feedback, {"at": "When", "doctor": "Doctor", "score": "Score", "feedback": "Comment"}
    )
    kit.show_table(df, "feedback", empty="No written feedback in this period.")
