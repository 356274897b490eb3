"""``qlink api-key``: create prints the key once, list shows no key, revoke stops it."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import AuthenticationFailed
from core.partners.keys import authenticate_key, parse_key
from db.engine import ALL_TENANTS, Database
from db.migrate import upgrade
from qlink import cli
from tests.support import make_clinic


def test_create_list_origin_and_revoke(monkeypatch, tmp_path: Path, capsys):
    for name in ("QLINK_DATABASE_URL", "QLINK_DATA_KEY", "QLINK_REDIS_URL", "QLINK_VAR_DIR"):
        monkeypatch.delenv(name, raising=False)
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("QLINK_HOME", str(tmp_path / "var"))
    monkeypatch.setenv("QLINK_DATABASE_URL", url)
    database = Database.from_url(url)
    upgrade(database.engine)
    with database.transaction(ALL_TENANTS) as s:
        make_clinic(s, "citycare")
    assert cli.main(["api-key", "create", "--clinic", "citycare", "--name", "Website"]) == 0
    out = capsys.readouterr().out
    key = next(line[5:] for line in out.splitlines() if line.startswith("key: "))
    ref = parse_key(key)
    assert (
        cli.main(["api-key", "origin-add", "--clinic", "citycare", "--origin", "https://a.in"]) == 0
    )
    assert cli.main(["api-key", "list", "--clinic", "citycare"]) == 0
    listed = capsys.readouterr().out
    assert "Website" in listed and "active" in listed and key not in listed
    assert "origins: https://a.in" in listed
    assert cli.main(["api-key", "revoke", "--clinic", "citycare", "--id", str(ref.client_id)]) == 0
    with database.transaction(ref.tenant_id) as s, pytest.raises(AuthenticationFailed):
        authenticate_key(s, ref)
    database.dispose()
    assert cli.main(["api-key", "create", "--clinic", "citycare"]) == 1  # --name missing
    assert cli.main(["api-key", "list", "--clinic", "nowhere"]) == 1
