"""`qlink bench queue` at toy sizes: the report's shape and its correctness checks (no clocks)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from sqlalchemy import inspect

from db.engine import Database
from qlink.bench import queue as bench
from qlink.bench.common import client_levels, percentile, summarise
from qlink.cli import main

PHASES = ("issue", "call_next", "call_next_contended", "bare")


def _assert_sane(stats: dict[str, float]) -> None:
    assert stats["tps"] > 0
    assert 0 < stats["p50_ms"] <= stats["p95_ms"] <= stats["p99_ms"] <= stats["max_ms"]


def test_toy_bench_reports_every_level_with_no_duplicate_gap_or_double_call(db: Database) -> None:
    report = bench.measure(db, bench.Shape((1, 4), tokens=40, departments=2, doctors=1))

    assert report["dialect"] == db.dialect
    assert (report["departments_per_level"], report["doctors_per_department"]) == (2, 1)
    assert set(report["levels"]) == {"1", "4"}
    for level in report["levels"].values():
        for phase in PHASES:
            _assert_sane(level[phase])
        assert level["issue"]["ops"] == level["bare"]["ops"] == 40
        assert level["call_next"]["ops"] + level["call_next_contended"]["ops"] == 40
        assert level["issue"]["statements_per_op"] > 0
        assert level["ratio_issue_vs_bare"] > 0
    assert report["checks"] == {
        "issued": 80,
        "expected": 80,
        "duplicates": 0,
        "gaps": 0,
        "called_twice": 0,
        "never_called": 0,
        "ok": True,
    }
    assert report["targets"] == {"clients": 16, "measured": False}
    assert report["tenant"]["slug"].startswith("bench-")
    assert json.loads(json.dumps(report)) == report
    assert "duplicates 0, gaps 0, called twice 0, never called 0 - OK" in bench.render(report)


def test_bare_baseline_drops_its_scratch_tables(db: Database) -> None:
    summary = bench.bare_transactions(db, 2, 10, 3, "droptest")

    assert summary.ops == 10
    assert not [t for t in inspect(db.engine).get_table_names() if t.startswith("bench_")]


def test_cli_prints_one_json_object_on_embedded_sqlite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("QLINK_DATABASE_URL", f"sqlite:///{tmp_path / 'bench.db'}")
    monkeypatch.setenv("QLINK_VAR_DIR", str(tmp_path))

    options = ["--clients", "2,1", "--tokens", "12", "--departments", "2", "--doctors", "1"]
    assert main(["bench", "queue", *options]) == 0
    assert "never called 0 - OK" in capsys.readouterr().out

    status = main(["bench", "queue", "--clients", "1", "--tokens", "8", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert status == 0
    assert report["dialect"] == "sqlite"
    assert set(report["levels"]["1"]) == {*PHASES, "ratio_issue_vs_bare"}
    assert report["checks"]["ok"] is True

    assert main(["bench", "queue", "--departments", "27"]) == 1
    assert "--departments is at most 26" in capsys.readouterr().err


def test_client_levels_are_sorted_unique_and_positive() -> None:
    assert client_levels("64, 1,16,16") == (1, 16, 64)
    for bad in ("", "0,4", "a,b"):
        with pytest.raises(argparse.ArgumentTypeError):
            client_levels(bad)


def test_percentile_is_nearest_rank() -> None:
    values = [float(n) for n in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 95), percentile(values, 100)) == (
        50.0,
        95.0,
        100.0,
    )
    assert percentile([7.0], 99) == 7.0


def test_a_phase_with_no_operations_summarises_to_zeros() -> None:
    assert summarise([], 0.5).as_dict() == {
        "ops": 0,
        "seconds": 0.5,
        "tps": 0.0,
        "p50_ms": 0.0,
        "p95_ms": 0.0,
        "p99_ms": 0.0,
        "max_ms": 0.0,
    }


def _level(ratio: float, call_p95: float) -> dict[str, object]:
    return {"ratio_issue_vs_bare": ratio, "call_next": {"p95_ms": call_p95}}


def test_targets_are_judged_at_16_and_64_clients() -> None:
    from qlink.bench.queue_report import _target_lines, check_targets

    judged = check_targets({"16": _level(0.31, 49.0), "64": _level(0.2, 251.0)})
    assert judged["issue_vs_bare"]["met"] and judged["call_next_p95_ms"]["met"]
    assert judged["heavy_call_next_p95_ms"] == {
        "clients": 64,
        "target": 250.0,
        "actual": 251.0,
        "met": False,
    }
    lines = _target_lines(judged)
    assert lines[1] == "target at 64 clients: call-next p95 < 250 ms: 251.0 ms MISSED"
    missed = check_targets({"16": _level(0.29, 50.0)})
    assert not missed["issue_vs_bare"]["met"] and not missed["call_next_p95_ms"]["met"]
    assert "heavy_call_next_p95_ms" not in missed


def test_the_report_says_how_fresh_the_stored_etas_were() -> None:
    from qlink.bench.queue_report import _projection_lines

    stats = {
        "requested": 4000,
        "projected": 812,
        "covered": 3,
        "latency_ms": {"p50": 40.0, "p95": 310.4, "max": 900.0},
    }
    assert _projection_lines(stats) == [
        "ETA re-projections: 812 for 4,000 queue changes (3 already covered); "
        "commit to stored ETA p50 40 ms, p95 310 ms, max 900 ms"
    ]
    assert _projection_lines(None) == []
