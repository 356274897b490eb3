"""Run Alembic migrations programmatically (``qlink db upgrade``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

MIGRATIONS = Path(__file__).parent / "migrations"
# Created by migrations but not modelled: PostgreSQL-only trigram indexes for name search
# (0005). An expression index with an operator class cannot be compared on SQLite.
UNMODELLED_INDEXES = frozenset({"ix_patients_name_key_trgm", "ix_patients_name_fold_trgm"})


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """Tell autogenerate which schema objects to compare (Alembic's ``include_object`` hook)."""
    return not (type_ == "index" and name in UNMODELLED_INDEXES)


def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str | None]:
    """Bring the schema to ``revision`` (a no-op when it is there); return (before, after)."""
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.connect() as conn, _sqlite_foreign_keys_off(conn), conn.begin():
        before = MigrationContext.configure(conn).get_current_revision()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
        after = MigrationContext.configure(conn).get_current_revision()
        _check_sqlite_foreign_keys(conn)
    return before, after


@contextmanager
def _sqlite_foreign_keys_off(conn: Connection) -> Iterator[None]:
    # Batch migrations rebuild SQLite tables that other rows reference, which fails with foreign
    # keys on; SQLite ignores the pragma inside a transaction, so it is set before BEGIN
    # (Alembic's batch-mode advice) and every row is checked before the commit instead.
    if conn.dialect.name != "sqlite":
        yield
        return
    driver = conn.connection.driver_connection
    assert driver is not None
    driver.execute("PRAGMA foreign_keys=OFF")
    try:
        yield
    finally:
        driver.execute("PRAGMA foreign_keys=ON")


def _check_sqlite_foreign_keys(conn: Connection) -> None:
    if conn.dialect.name != "sqlite":
        return
    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        raise RuntimeError(f"migration left rows with broken references: {broken[:5]}")


def current_revision(engine: Engine) -> str | None:
    """Return the database's schema revision (``None`` for an empty database)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def pending(engine: Engine) -> bool:
    """Tell whether the database is behind the newest migration."""
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    return current_revision(engine) != head
