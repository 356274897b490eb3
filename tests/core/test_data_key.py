"""The data key belongs to its database: a foreign key is refused, rotation re-seals every phone."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import func, inspect, select, text

from core.patients import PhoneVault, register_patient, search_patients
from db.engine import ALL_TENANTS, Database
from db.migrate import upgrade
from db.models import Patient
from qlink import cli
from qlink.keys import DataKeyMismatch, RotationUnderWay, check_data_key, open_database
from qlink.rotate import retired_key_file, rotate_data_key
from qlink.settings import Settings
from tests.support import make_clinic

PHONES = ["98765 43210", "91234 56780", "99887 76655"]


def settings_for(url: str, home: Path, data_key: str | None = None) -> Settings:
    env = {"QLINK_DATABASE_URL": url, "QLINK_SECRET_KEY": "s" * 40}
    if data_key:
        env["QLINK_DATA_KEY"] = data_key
    return Settings.from_env(env, home=home)


def clinic_with_patients(database: Database, settings: Settings) -> int:
    vault = PhoneVault(settings.data_key)
    with database.transaction(ALL_TENANTS) as s:
        clinic = make_clinic(s)
        for i, phone in enumerate(PHONES):
            register_patient(
                s, clinic.receptionist, vault=vault, full_name=f"Patient {i}", phone=phone
            )
    return clinic.tenant_id


def row_counts(database: Database) -> dict[str, int]:
    with database.engine.connect() as conn:
        tables = inspect(conn).get_table_names()
        return {t: conn.execute(text(f'SELECT count(*) FROM "{t}"')).scalar_one() for t in tables}


def test_a_foreign_data_key_is_refused_and_writes_nothing(fresh_url, tmp_path, monkeypatch, capsys):
    owner = settings_for(fresh_url, tmp_path / "home")
    database = open_database(owner, migrate=True)
    clinic_with_patients(database, owner)
    before = row_counts(database)

    stranger = settings_for(fresh_url, tmp_path / "elsewhere")  # a new home, a new key
    with pytest.raises(DataKeyMismatch) as refused:
        open_database(stranger, migrate=True)
    message = str(refused.value)
    assert str(tmp_path / "elsewhere" / "data_key") in message and "QLINK_HOME" in message
    assert owner.data_key not in message and stranger.data_key not in message

    monkeypatch.setenv("QLINK_DATABASE_URL", fresh_url)
    monkeypatch.setenv("QLINK_DATA_KEY", "not-the-key-of-this-database")
    monkeypatch.delenv("QLINK_VAR_DIR", raising=False)
    monkeypatch.setenv("QLINK_HOME", str(tmp_path / "elsewhere"))
    assert cli.main(["db", "upgrade"]) == 1
    err = capsys.readouterr().err
    assert err.splitlines()[-1].startswith(
        "qlink: error: the data key from QLINK_DATA_KEY does not"
    )
    assert row_counts(database) == before
    database.dispose()


def test_a_database_filled_before_fingerprints_only_takes_the_key_that_opens_it(
    fresh_url, tmp_path
):
    owner = settings_for(fresh_url, tmp_path / "home")
    database = open_database(owner, migrate=True)
    clinic_with_patients(database, owner)
    with database.engine.begin() as conn:  # as left by a release before fingerprints
        conn.execute(text("DELETE FROM key_fingerprints"))
    before = row_counts(database)

    stranger = settings_for(fresh_url, tmp_path / "elsewhere")
    with pytest.raises(DataKeyMismatch):
        check_data_key(database, stranger)
    assert row_counts(database) == before  # the stranger's key was not recorded

    assert check_data_key(database, owner)
    with pytest.raises(DataKeyMismatch):
        check_data_key(database, stranger)
    database.dispose()


def test_processes_starting_at_once_record_one_key(fresh_url, tmp_path):
    database = Database.from_url(fresh_url)
    upgrade(database.engine)  # migrated, no key recorded yet
    keys = ["key-x", "key-y"] * 3
    start = threading.Barrier(len(keys))
    outcome: dict[int, str] = {}

    def start_process(i: int) -> None:
        settings = settings_for(fresh_url, tmp_path / f"h{i}", keys[i])
        start.wait()
        try:
            check_data_key(database, settings)
            outcome[i] = "ok"
        except DataKeyMismatch:
            outcome[i] = "refused"

    threads = [threading.Thread(target=start_process, args=(i,)) for i in range(len(keys))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    winners = {keys[i] for i, result in outcome.items() if result == "ok"}
    assert len(outcome) == len(keys) and len(winners) == 1
    assert sorted(outcome.values()) == ["ok"] * 3 + ["refused"] * 3
    database.dispose()


def test_rotation_reseals_phones_and_retires_the_old_key(fresh_url, tmp_path):
    home = tmp_path / "home"
    old = settings_for(fresh_url, home)
    database = open_database(old, migrate=True)
    tenant_id = clinic_with_patients(database, old)
    with database.transaction(ALL_TENANTS, readonly=True) as s:
        old_ciphers = set(s.scalars(select(Patient.phone_cipher)))

    result = rotate_data_key(database, old, batch_size=2)

    new = settings_for(fresh_url, home)  # the next start reads the new key from the home
    assert result.resealed == len(PHONES) and new.data_key != old.data_key
    assert retired_key_file(home, old.data_key).read_text().strip() == old.data_key
    assert check_data_key(database, new)
    with pytest.raises(DataKeyMismatch):
        check_data_key(database, settings_for(fresh_url, tmp_path / "x", old.data_key))
    vault = PhoneVault(new.data_key)
    with database.transaction(tenant_id, readonly=True) as s:
        patients = s.scalars(select(Patient).order_by(Patient.id)).all()
        assert {p.phone_cipher for p in patients}.isdisjoint(old_ciphers)
        phones = [vault.decrypt(p.phone_cipher) for p in patients if p.phone_cipher]
        receptionist = _receptionist(s, tenant_id)
        found = search_patients(s, receptionist, vault=vault, query=PHONES[1])
    assert phones == ["+919876543210", "+919123456780", "+919988776655"]
    assert [f.full_name for f in found] == ["Patient 1"]
    database.dispose()


def test_a_rotation_interrupted_midway_blocks_starts_and_resumes(fresh_url, tmp_path):
    home = tmp_path / "home"
    old = settings_for(fresh_url, home)
    database = open_database(old, migrate=True)
    clinic_with_patients(database, old)

    def crash(_rows: int) -> None:
        raise KeyboardInterrupt  # the first batch committed, the rest did not happen

    with pytest.raises(KeyboardInterrupt):
        rotate_data_key(database, old, batch_size=2, progress=crash)
    assert (home / "data_key.next").exists()
    with pytest.raises(RotationUnderWay):
        check_data_key(database, old)

    result = rotate_data_key(database, old, batch_size=2)

    new = settings_for(fresh_url, home)
    assert result.resealed == len(PHONES) and check_data_key(database, new)
    assert not (home / "data_key.next").exists()
    vault = PhoneVault(new.data_key)
    with database.transaction(ALL_TENANTS, readonly=True) as s:
        ciphers = s.scalars(select(Patient.phone_cipher)).all()
        hashes = set(s.scalars(select(Patient.phone_hash)))
        assert s.scalar(select(func.count()).select_from(Patient)) == len(PHONES)
    assert {vault.lookup_hash(vault.decrypt(c)) for c in ciphers if c} == hashes
    database.dispose()


def test_rotating_an_env_held_key_says_how_to_install_it(fresh_url, tmp_path):
    settings = settings_for(fresh_url, tmp_path / "home", "an-operator-held-data-key")
    database = open_database(settings, migrate=True)
    clinic_with_patients(database, settings)
    result = rotate_data_key(database, settings)
    next_key = (tmp_path / "home" / "data_key.next").read_text().strip()
    assert result.key_written is None and result.instructions
    assert "QLINK_DATA_KEY" in result.instructions and "data_key.next" in result.instructions
    assert check_data_key(database, settings_for(fresh_url, tmp_path / "h2", next_key))
    database.dispose()


def _receptionist(session, tenant_id):
    from core.auth.users import actor_for
    from db.models import User

    user = session.scalars(
        select(User).where(User.tenant_id == tenant_id, User.role == "receptionist")
    ).one()
    return actor_for(user)


def test_the_service_refuses_to_start_with_a_foreign_key(fresh_url, tmp_path):
    from starlette.testclient import TestClient

    from qlink.asgi import create_app

    owner = settings_for(fresh_url, tmp_path / "home")
    database = open_database(owner, migrate=True)
    stranger = settings_for(fresh_url, tmp_path / "elsewhere", "a-key-from-another-install")
    try:
        with pytest.raises(DataKeyMismatch), TestClient(create_app(stranger, database=database)):
            pass
        with TestClient(create_app(owner, database=database)) as client:
            assert client.get("/healthz").status_code == 200
    finally:
        database.dispose()
