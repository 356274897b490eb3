"""The clinic-day simulator drives real core services and checks the day it produced."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qlink import cli
from qlink.simulation import Scenario, simulate

REQUIRED = {
    "tokens_issued",
    "duplicates",
    "gaps",
    "lost",
    "double_called",
    "cross_tenant_leaks",
    "max_wait_minutes_by_kind",
    "ewt_mae_minutes",
    "naive_ewt_mae_minutes",
    "issue_p95_ms",
    "call_next_p95_ms",
    "tokens_per_second",
    "database",
}


@pytest.mark.timeout(240)
def test_a_small_day_on_two_clinics_keeps_every_invariant(db):
    summary = simulate(db, Scenario(tokens=120, doctors=4, departments=2, seed=3, issuers=4))
    assert set(summary) >= REQUIRED
    assert summary["database"] == db.dialect
    assert summary["tokens_issued"] == 120
    for invariant in ("duplicates", "gaps", "lost", "double_called", "cross_tenant_leaks"):
        assert summary[invariant] == 0, invariant
    assert summary["errors"] == {}
    # everyone issued was seen, or missed and not back, by the end of the day
    assert set(summary["final_status"]) <= {"done", "missed"}
    assert summary["ewt_tokens_measured"] > 100
    assert summary["issue_p95_ms"] > 0 and summary["call_next_p95_ms"] > 0
    # the day exercised what it claims to: calls, lab round-trips, pauses and a delay
    assert {"call", "start", "finish", "pause", "resume", "delay"} <= set(summary["events"])


def test_cli_prints_one_json_object(tmp_path: Path, monkeypatch, capsys):
    monkeypatch.setenv("QLINK_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("QLINK_DATABASE_URL", f"sqlite:///{tmp_path / 'sim.db'}")
    args = ["simulate", "--tokens", "30", "--doctors", "2", "--departments", "2", "--json"]
    assert cli.main(args) == 0
    summary = json.loads(capsys.readouterr().out)
    assert set(summary) >= REQUIRED and summary["tokens_issued"] == 30


def test_more_departments_than_doctors_is_a_clear_error(tmp_path: Path, monkeypatch, capsys):
    monkeypatch.setenv("QLINK_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("QLINK_DATABASE_URL", f"sqlite:///{tmp_path / 'sim.db'}")
    assert cli.main(["simulate", "--tokens", "10", "--doctors", "1", "--departments", "3"]) == 1
    assert "every department needs a doctor" in capsys.readouterr().err
