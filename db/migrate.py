"""Run Alembic migrations programmatically (``qlink db upgrade``)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

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


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision``; a no-op when it is already there."""
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def pending(engine: Engine) -> bool:
    """Tell whether the database is behind the newest migration."""
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    return current != head
