"""Tolerant patient name search: trigram GIN indexes on the name key and its spelling fold.

PostgreSQL only (SQLite search scans the clinic's patients). ``pg_trgm`` answers ``LIKE
'%part%'`` and word similarity (``%>``) from a GIN index. Two indexes: one on ``name_key`` for
literal partial names, one on the spelling-folded key ("kavitha" -> "kavita") for variants and
near misses. FOLDS is a frozen copy of ``core.patients.spelling.FOLDS`` at this revision: the
index expression must equal the one search builds for the planner to use it (a test checks),
so a change to the fold needs a new migration that rebuilds this index. Not modelled in
``db.models``: an expression index with an operator class cannot be compared on SQLite.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

FOLDS: tuple[tuple[str, str], ...] = (
    ("x", "ks"),
    ("h", ""),
    ("f", "p"),
    ("w", "v"),
    ("ee", "i"),
    ("oo", "u"),
    ("ou", "au"),
    *((letter + letter, letter) for letter in "abdgijklmnprsty"),
)


def _folded_name_key() -> str:
    sql = "name_key"
    for old, new in FOLDS:
        sql = f"replace({sql}, '{old}', '{new}')"
    return sql


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute(
        "CREATE INDEX ix_patients_name_key_trgm ON patients USING gin (name_key gin_trgm_ops)"
    )
    op.execute(
        "CREATE INDEX ix_patients_name_fold_trgm ON patients "
        f"USING gin (({_folded_name_key()}) gin_trgm_ops)"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS ix_patients_name_fold_trgm")
    op.execute("DROP INDEX IF EXISTS ix_patients_name_key_trgm")
    # pg_trgm stays: it may have been installed before this revision or be used by others.
