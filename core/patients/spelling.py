"""Spelling-tolerant name keys: fold common Indian transliteration variants to one spelling.

Names reach the desk romanised by ear, so "Kavitha" and "Kavita", "Lakshmi" and "Laxmi",
"Deepa" and "Dipa", "Pallavi" and "Palavi", "Phalguni" and "Falguni" are the same person. The
fold is a fixed sequence of plain replacements applied to a name key (``validation.name_key``),
so the database can compute the very same key in SQL: search compares folded keys on both
backends, and PostgreSQL indexes the folded key (migration 0005 holds a frozen copy of this
sequence; a test proves the search uses that index, so a change here needs a new migration).
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, String, func, literal_column
from sqlalchemy.orm import QueryableAttribute

# Order matters: x becomes ks before the h goes (Laxmi, Lakshmi -> laksmi), and doubled letters
# collapse last. SQLite's parser refuses much deeper nesting than these 22 replacements.
FOLDS: tuple[tuple[str, str], ...] = (
    ("x", "ks"),
    # Aspirates and "sh" are written with or without the h (th/t, dh/d, bh/b, sh/s); like
    # Soundex, drop every h rather than list each pair.
    ("h", ""),
    ("f", "p"),  # ph and f are one sound (Phalguni, Falguni)
    ("w", "v"),
    ("ee", "i"),
    ("oo", "u"),
    ("ou", "au"),  # Sourav, Saurav
    *((letter + letter, letter) for letter in "abdgijklmnprsty"),
)


def fold_name(key: str) -> str:
    """Return the spelling-folded form of a name key (``"kavitha raman"`` -> ``"kavita raman"``)."""
    for old, new in FOLDS:
        key = key.replace(old, new)
    return key


def fold_name_sql(key: QueryableAttribute[str] | ColumnElement[str]) -> ColumnElement[str]:
    """Return SQL computing ``fold_name`` of a name key column, identically on both backends.

    The replacements are inline constants, not bind parameters, so PostgreSQL can match the
    expression to its index.
    """
    folded: ColumnElement[str] = key.expression if isinstance(key, QueryableAttribute) else key
    for old, new in FOLDS:
        folded = func.replace(folded, _sql_text(old), _sql_text(new), type_=String)
    return folded


def _sql_text(value: str) -> ColumnElement[str]:
    # Safe to inline: FOLDS holds plain ASCII letters or nothing (a unit test checks it).
    return literal_column(f"'{value}'", String)
