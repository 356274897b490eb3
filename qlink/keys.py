"""The data key and its database: a fingerprint checked at start, and rotation.

The database records an HMAC of a fixed label under the data key (it names the key without
revealing it). Every entry point calls :func:`open_database` or :func:`check_data_key` before it
writes: a process holding another key would write phone numbers nobody can read, so it refuses
to start instead. The first process on an empty database records its key; two doing so at once
race on the primary key and the loser compares against the winner's fingerprint.
"""

from __future__ import annotations

import hashlib
import hmac

from cryptography.fernet import InvalidToken
from sqlalchemy import inspect, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url

from core.patients.phones import PhoneVault
from db.base import utcnow
from db.engine import ALL_TENANTS, Database
from db.migrate import upgrade
from db.models import KeyFingerprint, Patient
from qlink.settings import ConfigError, Settings

KEY_NAME = "data"
_LABEL = b"qlink data key fingerprint v1"
README_SECTION = "README, 'Data home, backups and keys'"


class DataKeyMismatch(ConfigError):
    """The data key is not the one this database's phone numbers were sealed with."""


class RotationUnderWay(ConfigError):
    """A key rotation started and has not finished; nothing may write until it does."""


def fingerprint(data_key: str) -> str:
    """Return the hex HMAC-SHA256 of a fixed label under ``data_key`` (does not reveal the key)."""
    return hmac.new(data_key.encode(), _LABEL, hashlib.sha256).hexdigest()


def open_database(settings: Settings, *, migrate: bool = False, pool_size: int = 10) -> Database:
    """Build the process's ``Database``, migrate it if asked, and refuse a foreign data key."""
    database = Database.from_url(settings.database_url, pool_size=pool_size)
    try:
        check_data_key(database, settings)  # before migrating: a wrong key changes nothing
        if migrate:
            upgrade(database.engine)
            check_data_key(database, settings)  # records the key on a database just created
    except BaseException:
        database.dispose()
        raise
    return database


def check_data_key(database: Database, settings: Settings) -> bool:
    """Refuse a data key that is not the database's; record it on first use.

    Return ``False`` when the schema predates the fingerprint table (nothing to check yet; the
    next start after ``qlink db upgrade`` records it). Writes only on the first use.
    """
    if not inspect(database.engine).has_table(KeyFingerprint.__tablename__):
        return False
    mine = fingerprint(settings.data_key)
    recorded = recorded_fingerprint(database)
    if recorded is None:
        if not _opens_sealed_rows(database, settings):
            raise DataKeyMismatch(mismatch_message(settings))
        _record(database, mine)
        recorded = recorded_fingerprint(database)  # another process may have won the race
    assert recorded is not None
    if recorded.next_fingerprint is not None:
        raise RotationUnderWay(
            "a data key rotation is under way on this database; finish it with "
            f"`qlink keys rotate` before starting anything else (see {README_SECTION})"
        )
    if recorded.fingerprint != mine:
        raise DataKeyMismatch(mismatch_message(settings))
    return True


def recorded_fingerprint(database: Database) -> KeyFingerprint | None:
    """Return the database's data key fingerprint row, if one was recorded."""
    with database.transaction(ALL_TENANTS, readonly=True) as session:
        return session.get(KeyFingerprint, KEY_NAME)


def mismatch_message(settings: Settings) -> str:
    """Explain a mismatched key: where it came from and how to point at the right one."""
    where = make_url(settings.database_url).render_as_string(hide_password=True)
    return (
        f"the data key from {settings.data_key_source} does not match the key of the database "
        f"{where}; phone numbers stored there could not be read with it, so nothing was "
        "written. Start with the key this database was created with: set QLINK_HOME to the "
        f"data home holding its data_key file (this run used {settings.home}), or set "
        f"QLINK_DATA_KEY to that key (see {README_SECTION})"
    )


def switch_fingerprint(database: Database, *, old: str, new: str) -> bool:
    """Make ``new`` the database's key fingerprint if ``old`` still is; tell whether it did."""
    with database.transaction(ALL_TENANTS) as session:
        done = session.execute(
            update(KeyFingerprint)
            .where(
                KeyFingerprint.name == KEY_NAME,
                KeyFingerprint.fingerprint == old,
                KeyFingerprint.next_fingerprint == new,
            )
            .values(fingerprint=new, next_fingerprint=None, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(done, "rowcount", 0))


def begin_rotation(database: Database, *, old: str, new: str) -> None:
    """Record that rows are being re-sealed from key ``old`` to key ``new``."""
    with database.transaction(ALL_TENANTS) as session:
        row = session.scalar(
            select(KeyFingerprint).where(KeyFingerprint.name == KEY_NAME).with_for_update()
        )
        if row is None or row.fingerprint != old:
            raise DataKeyMismatch("the data key changed while the rotation started; run it again")
        if row.next_fingerprint not in (None, new):
            raise RotationUnderWay(
                "a rotation to another new key is under way; rerun `qlink keys rotate` with the "
                "new key it started with (the data_key.next file, or QLINK_NEW_DATA_KEY)"
            )
        row.next_fingerprint = new
        row.updated_at = utcnow()


def _opens_sealed_rows(database: Database, settings: Settings) -> bool:
    """Whether the key opens a phone number already stored (true when none is stored yet).

    A database filled before fingerprints existed has none recorded: the first key to start
    must prove it is the one the rows were sealed with before it is recorded as theirs.
    """
    with database.transaction(ALL_TENANTS, readonly=True) as session:
        sealed = session.scalar(
            select(Patient.phone_cipher).where(Patient.phone_cipher.is_not(None)).limit(1)
        )
    if sealed is None:
        return True
    try:
        PhoneVault(settings.data_key).decrypt(sealed)
    except InvalidToken:
        return False
    return True


def _record(database: Database, mine: str) -> None:
    values = {"name": KEY_NAME, "fingerprint": mine, "updated_at": utcnow()}
    insert = pg_insert if database.dialect == "postgresql" else sqlite_insert
    with database.transaction(ALL_TENANTS) as session:
        session.execute(insert(KeyFingerprint).values(values).on_conflict_do_nothing())
