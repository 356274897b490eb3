from __future__ import annotations

import stat

import pytest

from qlink.settings import ConfigError, Settings


def test_defaults_are_embedded_and_secrets_generated_once(tmp_path):
    first = Settings.from_env({}, var_dir=tmp_path)
    second = Settings.from_env({}, var_dir=tmp_path)
    assert first.embedded and first.database_url == f"sqlite:///{tmp_path / 'qlink.db'}"
    assert first.secret_key == second.secret_key and len(first.secret_key) >= 32
    assert first.secret_key != first.data_key
    mode = stat.S_IMODE((tmp_path / "secret_key").stat().st_mode)
    assert mode == 0o600
    assert first.timezone == "Asia/Kolkata" and not first.outbound_whatsapp


def test_environment_wins_and_postgres_url_uses_psycopg3(tmp_path):
    env = {
        "QLINK_DATABASE_URL": "postgresql://u@h/db",
        "QLINK_SECRET_KEY": "s" * 40,
        "QLINK_DATA_KEY": "d" * 40,
        "WHATSAPP_ACCESS_TOKEN": "tok",
        "WHATSAPP_GRAPH_URL": "http://127.0.0.1:9/v21.0",
    }
    settings = Settings.from_env(env, var_dir=tmp_path)
    assert settings.database_url == "postgresql+psycopg://u@h/db"
    assert settings.secret_key == "s" * 40 and settings.outbound_whatsapp
    assert not (tmp_path / "secret_key").exists()


@pytest.mark.parametrize(
    "env",
    [{"QLINK_TIMEZONE": "Mars/Olympus"}, {"QLINK_DATABASE_URL": "mysql://x"}],
)
def test_bad_configuration_is_a_clear_error(tmp_path, env):
    with pytest.raises(ConfigError):
        Settings.from_env(env, var_dir=tmp_path)
