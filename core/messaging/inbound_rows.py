"""Insert-if-absent on a unique key: the database decides which process saw a row first."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from db.base import Base


def insert_new(session: Session, model: type[Base], key: list[str], **values: Any) -> bool:
    """Insert a row unless one with the same ``key`` columns exists; tell whether it was new.

    ``INSERT … ON CONFLICT DO NOTHING RETURNING id``: a concurrent insert of the same key
    waits for the other transaction and then finds the conflict, so exactly one caller wins.
    """
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = cast(Table, model.__table__)
    stmt = insert(table).values(**values).on_conflict_do_nothing(index_elements=key)
    return session.execute(stmt.returning(table.c.id)).first() is not None
