"""The data home never depends on the current directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import platformdirs

from qlink.settings import Settings, default_home, resolve_home

ROOT = Path(__file__).resolve().parents[2]


def qlink(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("QLINK_")}
    return subprocess.run(
        [sys.executable, "-m", "qlink", *args],
        cwd=cwd,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_default_home_is_the_same_from_any_directory(tmp_path):
    probe = "from qlink.settings import resolve_home; print(resolve_home({}))"
    clean = {k: v for k, v in os.environ.items() if not k.startswith("QLINK_")}
    homes = set()
    for folder in (tmp_path / "a", tmp_path / "b" / "deeper"):
        folder.mkdir(parents=True)
        out = subprocess.run(
            [sys.executable, "-c", probe],
            cwd=folder, env=clean, capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
        homes.add(out.stdout.strip())
    assert homes == {str(ROOT / "var")}  # beside this checkout, in neither folder


def test_cli_uses_qlink_home_from_any_directory(tmp_path):
    home = tmp_path / "home"
    first_cwd, second_cwd = tmp_path / "one", tmp_path / "two"
    first_cwd.mkdir()
    second_cwd.mkdir()
    first = qlink(["db", "upgrade"], first_cwd, QLINK_HOME=str(home))
    second = qlink(["db", "upgrade"], second_cwd, QLINK_HOME=str(home))
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert first.stderr.splitlines()[0] == f"data home: {home}"
    assert "schema migrated from revision (empty database) to" in first.stdout
    assert "nothing to do" in second.stdout  # the same database, found from elsewhere
    assert (home / "qlink.db").exists() and (home / "data_key").exists()
    assert not list(first_cwd.iterdir()) and not list(second_cwd.iterdir())


def test_an_installed_package_keeps_its_data_in_the_user_data_directory(tmp_path):
    site_packages = tmp_path / "site-packages"  # no pyproject.toml beside the package
    (site_packages / "qlink").mkdir(parents=True)
    expected = platformdirs.user_data_path("qlink", appauthor=False)
    assert default_home(site_packages) == expected
    assert default_home(ROOT) == ROOT / "var"


def test_qlink_home_wins_and_qlink_var_dir_still_works(tmp_path):
    assert resolve_home({"QLINK_HOME": str(tmp_path / "h")}) == tmp_path / "h"
    assert resolve_home({"QLINK_VAR_DIR": str(tmp_path / "v")}) == tmp_path / "v"
    both = {"QLINK_HOME": str(tmp_path / "h"), "QLINK_VAR_DIR": str(tmp_path / "v")}
    assert resolve_home(both) == tmp_path / "h"
    settings = Settings.from_env({"QLINK_HOME": str(tmp_path / "h")})
    assert settings.database_url == f"sqlite:///{tmp_path / 'h' / 'qlink.db'}"
    assert settings.data_key_file == tmp_path / "h" / "data_key"
