"""``qlink keys rotate``: re-seal every phone number under a new data key, resumably.

Order matters for a crash at any point: the new key is written to ``data_key.next`` in the data
home (or given in ``QLINK_NEW_DATA_KEY``) before any row changes; the database records the
rotation (other processes refuse to start meanwhile); rows are re-sealed in small committed
batches, each row decrypted with the new or the old key, so a rerun simply goes over them again;
then the fingerprint switches, and last the key file moves into place (the old one is kept as
``data_key.retired-<fingerprint>`` for backups taken before the rotation).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select, update

from core.patients import PhoneVault
from db.engine import ALL_TENANTS, Database
from db.models import BookingRequest, Patient
from qlink.keys import (
    DataKeyMismatch,
    begin_rotation,
    check_data_key,
    fingerprint,
    mismatch_message,
    recorded_fingerprint,
    switch_fingerprint,
)
from qlink.settings import DATA_KEY_FILE, ConfigError, Settings, local_secret

NEXT_KEY_FILE = "data_key.next"
NEW_KEY_ENV = "QLINK_NEW_DATA_KEY"
SEALED_TABLES: tuple[type[Patient] | type[BookingRequest], ...] = (Patient, BookingRequest)


@dataclass(frozen=True)
class Rotated:
    resealed: int
    key_written: Path | None  # the data_key file replaced, or None when the key lives in the env
    instructions: str | None  # what the operator must still do (env-held keys)


def rotate_data_key(
    database: Database,
    settings: Settings,
    *,
    new_key: str | None = None,
    batch_size: int = 500,
    progress: Callable[[int], None] = lambda _n: None,
) -> Rotated:
    """Re-seal every stored phone under a new key, switch the fingerprint, install the key."""
    if recorded_fingerprint(database) is None:
        check_data_key(database, settings)  # never started before: record the current key
    new_key = _new_key(settings, new_key)
    old_fp, new_fp = fingerprint(settings.data_key), fingerprint(new_key)
    recorded = recorded_fingerprint(database)
    if recorded is not None and recorded.fingerprint == new_fp:  # crashed after the switch
        return _install(settings, new_key, resealed=0)
    if recorded is None or recorded.fingerprint != old_fp:
        raise DataKeyMismatch(mismatch_message(settings))
    begin_rotation(database, old=old_fp, new=new_fp)
    old_vault, new_vault = PhoneVault(settings.data_key), PhoneVault(new_key)
    total = 0
    for model in SEALED_TABLES:
        total += _reseal_table(database, model, new_vault, old_vault, batch_size, progress)
    if not switch_fingerprint(database, old=old_fp, new=new_fp):
        raise DataKeyMismatch("the key fingerprint changed during the rotation; run it again")
    return _install(settings, new_key, resealed=total)


def _new_key(settings: Settings, given: str | None) -> str:
    path = settings.home / NEXT_KEY_FILE
    stored = path.read_text().strip() if path.exists() else None
    if given and stored and given != stored:
        raise ConfigError(
            f"{path} holds another new key from an unfinished rotation; rerun with that key "
            f"or without {NEW_KEY_ENV}"
        )
    key = given or stored or local_secret(settings.home, NEXT_KEY_FILE)
    if key == settings.data_key:
        raise ConfigError(
            f"the new key is the current key; delete {path} (left over from a finished "
            "rotation) and run again"
        )
    return key


def _reseal_table(
    database: Database,
    model: type[Patient] | type[BookingRequest],
    new: PhoneVault,
    old: PhoneVault,
    batch_size: int,
    progress: Callable[[int], None],
) -> int:
    done, after = 0, 0
    while True:
        with database.transaction(ALL_TENANTS) as session:
            rows = session.execute(
                select(model.id, model.phone_cipher)
                .where(model.id > after, model.phone_cipher.is_not(None))
                .order_by(model.id)
                .limit(batch_size)
            ).all()
            if not rows:
                return done
            session.execute(update(model), [_resealed(i, c, new, old) for i, c in rows if c])
        after, done = rows[-1][0], done + len(rows)
        progress(len(rows))


def _resealed(row_id: int, cipher: bytes, new: PhoneVault, old: PhoneVault) -> dict[str, object]:
    sealed = new.reseal(cipher, previous=old)
    return {"id": row_id, "phone_cipher": sealed.cipher, "phone_hash": sealed.lookup_hash}


def _install(settings: Settings, new_key: str, *, resealed: int) -> Rotated:
    """Put the new key where the next start reads it (or say how, when it lives in the env)."""
    home, next_path = settings.home, settings.home / NEXT_KEY_FILE
    if settings.data_key_file is None:
        where = (
            f"the contents of {next_path} (then delete that file)"
            if next_path.exists()
            else f"the value of {NEW_KEY_ENV}"
        )
        return Rotated(resealed, None, f"set QLINK_DATA_KEY to {where} for every process")
    current = home / DATA_KEY_FILE
    if current.exists():  # kept for backups sealed with it; named so no rotation overwrites it
        retired = retired_key_file(home, current.read_text().strip())
        shutil.copyfile(current, retired)
        os.chmod(retired, 0o600)
    if next_path.exists():
        os.replace(next_path, current)
    else:  # the new key came from QLINK_NEW_DATA_KEY: write it where the old one was
        tmp = home / f"{DATA_KEY_FILE}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(new_key + "\n")
        os.replace(tmp, current)
    return Rotated(resealed, current, None)


def retired_key_file(home: Path, key: str) -> Path:
    """Return where a replaced key is kept: named by its fingerprint, never overwritten."""
    return home / f"{DATA_KEY_FILE}.retired-{fingerprint(key)[:12]}"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--batch-size", type=int, default=500, help="rows per transaction")


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Rotate the data key of the configured database and say what to do next."""
    database = Database.from_url(settings.database_url)
    try:
        result = rotate_data_key(
            database,
            settings,
            new_key=os.environ.get(NEW_KEY_ENV) or None,
            batch_size=args.batch_size,
            progress=lambda n: print(f"  re-sealed {n} rows", file=sys.stderr),
        )
    finally:
        database.dispose()
    print(f"data key rotated: {result.resealed} phone numbers re-sealed")
    if result.key_written is not None:
        print(f"new key written to {result.key_written}; the old one kept beside it as *.retired-*")
    if result.instructions:
        print(f"next: {result.instructions}")
    return 0
