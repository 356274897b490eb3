"""``qlink bench whatsapp-burst`` end to end, small: its own checks pass and it says so.

Embedded mode (no Redis) on each database; the 200-patient run on PostgreSQL + Redis with
real ``qlink worker`` processes is run by hand (numbers in the issue).
"""

from __future__ import annotations

import argparse
import json

from qlink.bench import whatsapp_burst
from qlink.settings import Settings


def test_a_small_burst_answers_everyone_once(fresh_url, tmp_path, capsys):
    env = {
        "QLINK_DATABASE_URL": fresh_url,
        "QLINK_SECRET_KEY": "s" * 32,
        "QLINK_DATA_KEY": "k" * 43,
    }
    settings = Settings.from_env(env, var_dir=tmp_path)
    args = argparse.Namespace(patients=4, processes=1, threads=1, json=True)
    assert whatsapp_burst.run(settings, args) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is True
    assert report["inbound"] >= 4 * 10  # hi, name, age, six taps, confirm, CHECKIN
    assert (report["lost"], report["doubled"], report["stray_sends"]) == (0, 0, 0)
    assert report["patients_with_one_token"] == report["patients_with_one_booking"] == 4
    assert report["sent_by_kind"]["whatsapp.send"] >= report["inbound"]
