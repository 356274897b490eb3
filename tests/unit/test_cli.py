"""The ``qlink`` command line: exit codes, one-line errors, and what each command prints."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic.script import ScriptDirectory

from core.errors import ValidationFailed
from db.engine import Database
from db.migrate import alembic_config, upgrade
from qlink import cli, launch
from qlink.seed import ClinicCounts, DemoSummary, Login

UNREACHABLE_PG = "postgresql://demo:s3cret-pw@127.0.0.1:1/qlink"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A clean QLink environment: a temp SQLite file and var dir."""
    for name in ("QLINK_DATABASE_URL", "QLINK_SECRET_KEY", "QLINK_DATA_KEY", "QLINK_TIMEZONE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("QLINK_VAR_DIR", raising=False)
    monkeypatch.setenv("QLINK_HOME", str(tmp_path / "var"))
    monkeypatch.setenv("QLINK_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    return tmp_path


@pytest.fixture
def fake_seed(monkeypatch: pytest.MonkeyPatch) -> None:
    summary = DemoSummary(
        created=True,
        clinics=(ClinicCounts("sharma", "Sharma", "main", "100000000000001", 1, 2, 3, 4),),
        logins=(Login("sharma", "reception", "demo-reception-2026", "receptionist"),),
    )
    monkeypatch.setattr(launch, "seed_demo", lambda db, settings: summary)


class FakeStreamlit:
    """Stands in for ``subprocess.Popen``: records commands; Ctrl-C arrives ``interrupts`` times."""

    def __init__(self, interrupts: int = 0) -> None:
        self.commands: list[list[str]] = []
        self.interrupts = interrupts
        self.terminated = False

    def __call__(self, command: list[str], **_: Any) -> FakeStreamlit:
        self.commands.append(command)
        return self

    def terminate(self) -> None:
        self.terminated = True

    def wait(self, timeout: float | None = None) -> int:
        if self.interrupts:
            self.interrupts -= 1
            raise KeyboardInterrupt
        return 0


@pytest.fixture
def reception_app(env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    app = env / "app.py"
    app.write_text("")
    monkeypatch.setattr(launch, "RECEPTION_APP", app)
    return app


def test_db_upgrade_says_what_it_did(env: Path, capsys: pytest.CaptureFixture[str]):
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    partial = Database.from_url(f"sqlite:///{env / 'cli.db'}")
    upgrade(partial.engine, "0002")  # a database left behind by an older release
    partial.dispose()
    assert cli.main(["db", "upgrade"]) == 0
    first, first_err = capsys.readouterr()
    assert cli.main(["db", "upgrade"]) == 0
    second = capsys.readouterr().out
    assert f"schema migrated from revision 0002 to {head}" in first
    assert f"schema already at revision {head}; nothing to do" in second
    assert str(env / "cli.db") in first
    # The data home goes to stderr, so `qlink db shard-plan | psql` gets pure SQL.
    assert f"data home: {env / 'var'}" in first_err


def test_worker_without_whatsapp_settings_is_a_one_line_error(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    monkeypatch.delenv("WHATSAPP_ACCESS_TOKEN", raising=False)
    assert cli.main(["worker"]) == 1
    err = capsys.readouterr().err
    assert "qlink worker needs WHATSAPP_ACCESS_TOKEN and WHATSAPP_GRAPH_URL" in err


def test_bad_database_url_is_a_one_line_error(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    monkeypatch.setenv("QLINK_DATABASE_URL", "mysql://root@localhost/qlink")
    assert cli.main(["db", "upgrade"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("qlink: error:")
    assert "Traceback" not in err


def test_unreachable_database_is_one_line_and_hides_the_password(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    monkeypatch.setenv("QLINK_DATABASE_URL", UNREACHABLE_PG)
    assert cli.main(["db", "upgrade"]) == 1
    out, err = capsys.readouterr()
    assert err.startswith("data home: ")  # where it looked, then the one-line error
    assert _without_home(err).count("\n") == 1 and "database error" in err
    assert "s3cret-pw" not in out + err


def test_domain_error_is_a_one_line_error(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    def refuse(db: object, settings: object) -> None:
        raise ValidationFailed("Slug must be lowercase")

    monkeypatch.setattr(launch, "seed_demo", refuse)
    assert cli.main(["seed", "demo"]) == 1
    assert _without_home(capsys.readouterr().err) == "qlink: error: Slug must be lowercase\n"


def _without_home(err: str) -> str:
    return "".join(line for line in err.splitlines(True) if not line.startswith("data home: "))


def test_no_command_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]):
    assert cli.main([]) == 2
    assert "usage: qlink" in capsys.readouterr().out


def test_group_without_subcommand_prints_its_help(capsys: pytest.CaptureFixture[str]):
    assert cli.main(["db"]) == 2
    assert "upgrade" in capsys.readouterr().out


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]):
    assert cli.main(["frobnicate"]) == 2
    assert "invalid choice" in capsys.readouterr().err


def test_seed_demo_prints_clinics_and_logins(
    env: Path, fake_seed: None, capsys: pytest.CaptureFixture[str]
):
    assert cli.main(["seed", "demo"]) == 0
    out = capsys.readouterr().out
    assert "100000000000001" in out
    assert "reception" in out and "demo-reception-2026" in out


def test_demo_without_reception_app_explains_what_exists(
    env: Path,
    fake_seed: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
):
    monkeypatch.setattr(launch, "RECEPTION_APP", launch.ROOT / "apps" / "reception" / "missing.py")
    assert cli.main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "not in this version yet" in out
    assert "http://localhost:8501" in out


def test_demo_starts_headless_streamlit_and_stops_cleanly_on_ctrl_c(
    fake_seed: None,
    reception_app: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
):
    streamlit = FakeStreamlit(interrupts=1)
    monkeypatch.setattr(launch.subprocess, "Popen", streamlit)
    assert cli.main(["demo"]) == 0
    service, *apps, command = streamlit.commands
    doctor, lab = _app(apps, "doctor"), _app(apps, "lab")
    assert doctor[doctor.index("run") + 1].endswith("apps/doctor/main.py")
    assert lab[lab.index("--server.port") + 1] == "8503"
    assert doctor[doctor.index("--server.port") + 1] == "8502"
    # The demo is for the clinic network: the TV and the desk listen on every interface.
    assert service[-7:] == ["-m", "qlink", "serve", "--host", "0.0.0.0", "--port", "8000"]
    assert streamlit.terminated  # the TV service is stopped with the reception app
    assert command[-8:] == [
        "run",
        str(reception_app),
        "--server.address",
        "0.0.0.0",
        "--server.port",
        "8501",
        "--server.headless",
        "true",
    ]
    out = capsys.readouterr().out
    assert "stopped" in out
    assert "On the clinic network" in out or "use this computer's address" in out


def test_demo_on_loopback_only_says_so(
    fake_seed: None,
    reception_app: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
):
    streamlit = FakeStreamlit()
    monkeypatch.setattr(launch.subprocess, "Popen", streamlit)
    assert cli.main(["demo", "--host", "127.0.0.1"]) == 0
    service, *_apps, command = streamlit.commands
    assert service[-4:-2] == ["--host", "127.0.0.1"]
    assert command[command.index("--server.address") + 1] == "127.0.0.1"
    out = capsys.readouterr().out
    assert "this computer only" in out and "clinic network" not in out


def _app(commands: list[list[str]], name: str) -> list[str]:
    """The streamlit command of ``apps/<name>/main.py`` among the background apps started."""
    (found,) = [
        c for c in commands if "run" in c and c[c.index("run") + 1].endswith(f"apps/{name}/main.py")
    ]
    return found


def test_lan_addresses_are_never_loopback():
    assert all(not a.startswith("127.") for a in launch.lan_addresses())


def test_ui_runs_headless_streamlit_on_the_given_port(
    reception_app: Path, monkeypatch: pytest.MonkeyPatch
):
    streamlit = FakeStreamlit()
    monkeypatch.setattr(launch.subprocess, "Popen", streamlit)
    assert cli.main(["ui", "--port", "8600"]) == 0
    *apps, command = streamlit.commands
    doctor, lab = _app(apps, "doctor"), _app(apps, "lab")
    assert doctor[doctor.index("--server.port") + 1] == "8601"  # the doctor app, next port
    assert lab[lab.index("--server.port") + 1] == "8602"
    assert command[-8:] == [
        "run",
        str(reception_app),
        "--server.address",
        "127.0.0.1",  # production binding stays explicit
        "--server.port",
        "8600",
        "--server.headless",
        "true",
    ]


def test_ui_without_reception_app_fails_clearly(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    monkeypatch.setattr(launch, "RECEPTION_APP", launch.ROOT / "apps" / "reception" / "missing.py")
    assert cli.main(["ui"]) == 1
    assert "not in this version yet" in capsys.readouterr().err


def test_unwritable_var_dir_is_a_one_line_error(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    blocker = env / "not-a-dir"
    blocker.write_text("")
    monkeypatch.setenv("QLINK_HOME", str(blocker / "var"))
    assert cli.main(["db", "upgrade"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("qlink: error:")
