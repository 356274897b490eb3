"""The Flows private key: generated into the data home in embedded mode, never in production."""

from __future__ import annotations

import stat

from cryptography.hazmat.primitives import serialization

from qlink.settings import FLOWS_KEY_FILE, Settings, flows_private_key_pem

ENV = {"QLINK_SECRET_KEY": "s" * 43, "QLINK_DATA_KEY": "k" * 43}


def test_embedded_mode_generates_the_key_once_with_owner_only_access(tmp_path):
    settings = Settings.from_env(ENV, home=tmp_path)
    assert settings.whatsapp_flows_private_key == str(tmp_path / FLOWS_KEY_FILE)
    assert not (tmp_path / FLOWS_KEY_FILE).exists()  # generated on first use, not at start-up
    pem = flows_private_key_pem(settings)
    assert pem is not None
    assert serialization.load_pem_private_key(pem, password=None).key_size == 2048
    assert stat.S_IMODE((tmp_path / FLOWS_KEY_FILE).stat().st_mode) == 0o600
    assert flows_private_key_pem(Settings.from_env(ENV, home=tmp_path)) == pem


def test_production_uses_the_configured_path_and_generates_nothing(tmp_path):
    url = "postgresql://qlink@db/qlink"
    assert (
        Settings.from_env(
            {**ENV, "QLINK_DATABASE_URL": url}, home=tmp_path
        ).whatsapp_flows_private_key
        is None
    )
    key = tmp_path / "given.pem"
    key.write_bytes(b"pem")
    env = {**ENV, "QLINK_DATABASE_URL": url, "WHATSAPP_FLOWS_PRIVATE_KEY": str(key)}
    assert flows_private_key_pem(Settings.from_env(env, home=tmp_path)) == b"pem"
    assert not (tmp_path / FLOWS_KEY_FILE).exists()
