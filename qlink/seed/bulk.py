"""Write many rows fast: ids reserved up front, PostgreSQL ``COPY``, SQLite ``executemany``.

History rows reference each other (a bill its token, a payment its bill), so ids are reserved
in blocks before the rows are built: on PostgreSQL by advancing the table's id sequence once
(``setval`` after ``nextval``; a concurrent live insert still gets an id outside the block
because ``nextval`` never hands out a number twice), on SQLite from ``max(id)`` (SQLite has one
writer). Columns a row leaves out get the model's scalar default, as an ORM insert would.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Table, func, insert, select, text
from sqlalchemy.orm import Session

Row = dict[str, Any]


class Writer:
    """Reserve ids and write rows in the session's transaction (COPY when PostgreSQL allows)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.dialect = session.get_bind().dialect.name
        self._next: dict[str, int] = {}
        self.rows_written = 0
        self.copy = self.dialect == "postgresql" and self._bypasses_rls()

    def _bypasses_rls(self) -> bool:
        # COPY FROM is refused on tables under row-level security unless the role bypasses it.
        query = text("SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user")
        return bool(self.session.execute(query).scalar())

    def reserve(self, table: Table, count: int) -> int:
        """Return the first of ``count`` consecutive ids that only the caller will use."""
        if count <= 0:
            return 0
        if self.dialect == "postgresql":
            seq = self.session.execute(
                text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": table.name}
            ).scalar_one()
            first = int(self.session.execute(text("SELECT nextval(:s)"), {"s": seq}).scalar_one())
            self.session.execute(text("SELECT setval(:s, :v)"), {"s": seq, "v": first + count - 1})
            return first
        if table.name not in self._next:
            top = self.session.execute(select(func.max(table.c.id))).scalar()
            self._next[table.name] = int(top or 0) + 1
        first = self._next[table.name]
        self._next[table.name] = first + count
        return first

    def write(self, table: Table, rows: Sequence[Row]) -> None:
        if not rows:
            return
        columns = _columns(table, rows[0])
        defaults = {
            c.name: c.default.arg  # type: ignore[attr-defined]
            for c in table.columns
            if c.name in columns and c.default is not None and c.default.is_scalar
        }
        if self.copy:
            self._copy(table, columns, rows, defaults)
        else:
            full = [{**defaults, **row} for row in rows]
            self.session.execute(insert(table), full)
        self.rows_written += len(rows)

    def _copy(self, table: Table, columns: list[str], rows: Iterable[Row], defaults: Row) -> None:
        raw = self.session.connection().connection.driver_connection
        names = ", ".join(f'"{c}"' for c in columns)
        sql = f"COPY {table.name} ({names}) FROM STDIN"
        with raw.cursor() as cursor, cursor.copy(sql) as copy:  # type: ignore[union-attr]
            for row in rows:
                copy.write_row([row.get(c, defaults.get(c)) for c in columns])


def _columns(table: Table, sample: Row) -> list[str]:
    """The row's columns plus those with a scalar default (server defaults are left to the DB)."""
    names = [c.name for c in table.columns if c.name in sample]
    names += [
        c.name
        for c in table.columns
        if c.name not in sample and c.default is not None and c.default.is_scalar
    ]
    return names
