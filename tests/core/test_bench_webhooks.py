"""`qlink bench webhooks` at toy size: both servers answer every signed delivery (no clocks)."""

from __future__ import annotations

import json

from qlink.bench import webhooks as bench
from tests.web.conftest import settings_for


def test_toy_webhook_bench_measures_both_servers_and_processes_what_it_accepted(db, tmp_path):
    settings = settings_for(db, tmp_path)
    number = bench._bench_clinic(db)
    report = bench.measure(settings, db, number, requests=24, concurrency=4)
    assert report["service"]["ops"] == report["bare"]["ops"] == 24
    assert report["ratio"] is not None and report["ratio"] > 0
    assert report["processed_within_s"] is not None, "accepted deliveries were not processed"
    assert json.loads(json.dumps(report)) == report
    assert "ratio service/bare" in bench.render(report)
