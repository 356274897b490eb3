"""`qlink bench search` at toy size: the report's shape and its Kavita check (no clocks)."""

from __future__ import annotations

import argparse
import json

from core.patients import PhoneVault, register_patient
from db.engine import Database
from qlink.bench import search as bench


def test_toy_search_bench_reports_every_kind_and_finds_kavitha(db: Database) -> None:
    vault = PhoneVault("bench-test-key")
    args = argparse.Namespace(patients=40, queries=60, clinic=None, seed=3, json=False)
    desk, slug = bench._clinic(db, vault, args)
    with db.transaction(desk.tenant_id) as session:
        register_patient(session, desk, vault=vault, full_name="Kavitha Raman")

    report = bench.measure(db, vault, desk, bench._queries(db, desk, args), args.seed)
    report.update(clinic=slug, patients=bench._count(db, desk))

    assert report["patients"] == 41
    assert {"all searches", "baseline", "prefix", "variant", "code", "last4", "phone"} <= set(
        report["phases"]
    )
    assert report["phases"]["all searches"]["ops"] == 60
    for phase in report["phases"].values():
        assert 0 < phase["p50_ms"] <= phase["p95_ms"] <= phase["p99_ms"] <= phase["max_ms"]
    assert report["checks"]["kavita_finds_kavitha"] is True
    assert json.loads(json.dumps(report)) == report
    assert "Kavita finds a Kavitha: True" in bench.render(report)


def test_reusing_a_bench_clinic_registers_nobody(db: Database) -> None:
    vault = PhoneVault("bench-test-key")
    first = argparse.Namespace(patients=5, queries=5, clinic=None, seed=1, json=False)
    desk, slug = bench._clinic(db, vault, first)
    again, same = bench._clinic(db, vault, argparse.Namespace(**{**vars(first), "clinic": slug}))

    assert (again.user_id, same) == (desk.user_id, slug)
    assert bench._count(db, again) == 5
