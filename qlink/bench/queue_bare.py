"""The bare driver ceiling ``qlink bench queue`` compares issuing through core against.

It runs one counter UPDATE plus one INSERT per transaction on scratch tables through the raw
driver (psycopg 3 or sqlite3), with one counter row per department, picked the same way as
tokens pick theirs. They are ordinary tables, not TEMP ones: a temporary table is private to
its connection, so the clients would not share the counter's row lock. They are dropped
afterwards.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.engine import URL

from db.engine import Database
from qlink.bench.common import Summary, run_clients, summarise


def bare_transactions(
    database: Database, clients: int, tokens: int, counters: int, run_id: str
) -> Summary:
    """Measure the raw-driver ceiling: counter UPDATE … RETURNING plus one INSERT, committed.

    Transaction ``n`` takes counter ``n % counters``, as token ``n`` takes its department's.
    """
    tables = _Bare(f"bench_counter_{run_id}", f"bench_row_{run_id}", counters)
    if database.dialect == "postgresql":
        return _bare_postgresql(database.engine.url, tables, clients, tokens)
    return _bare_sqlite(database.engine.url.database, tables, clients, tokens)


@dataclass(frozen=True)
class _Bare:
    counter: str
    rows: str
    counters: int


def _bare_clients(transact: Callable[[int, int], None], clients: int, tokens: int) -> Summary:
    def work(index: int) -> list[float]:
        latencies = []
        for n in range(index, tokens, clients):
            started = time.perf_counter()
            transact(index, n)
            latencies.append(time.perf_counter() - started)
        return latencies

    return summarise(*run_clients(clients, work))


def _bare_postgresql(url: URL, tables: _Bare, clients: int, tokens: int) -> Summary:
    import psycopg
    from psycopg import sql

    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    counter, rows = sql.Identifier(tables.counter), sql.Identifier(tables.rows)
    take = sql.SQL(
        "UPDATE {} SET last_number = last_number + 1 WHERE id = %s RETURNING last_number"
    ).format(counter)
    add = sql.SQL("INSERT INTO {} (number, code, created_at) VALUES (%s, %s, %s)").format(rows)
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute(
            sql.SQL("CREATE TABLE {} (id int PRIMARY KEY, last_number int)").format(counter)
        )
        admin.execute(
            sql.SQL(
                "CREATE TABLE {} (id bigserial PRIMARY KEY, number int NOT NULL, "
                "code text NOT NULL, created_at timestamptz NOT NULL)"
            ).format(rows)
        )
        admin.execute(
            sql.SQL("INSERT INTO {} SELECT generate_series(0, %s), 0").format(counter),
            (tables.counters - 1,),
        )
        connections = [psycopg.connect(dsn, autocommit=True) for _ in range(clients)]
        try:

            def transact(index: int, n: int) -> None:
                conn = connections[index]
                with conn.transaction():
                    (number,) = conn.execute(take, (n % tables.counters,)).fetchone() or (0,)
                    conn.execute(add, (number, f"BN-{number:03d}", dt.datetime.now(dt.UTC)))

            return _bare_clients(transact, clients, tokens)
        finally:
            for conn in connections:
                conn.close()
            admin.execute(sql.SQL("DROP TABLE {}, {}").format(counter, rows))


def _bare_sqlite(path: str | None, tables: _Bare, clients: int, tokens: int) -> Summary:
    if not path or path == ":memory:":
        raise ValueError("the bare SQLite baseline needs a database file")
    counter, rows = tables.counter, tables.rows
    connections = [_sqlite_connect(path) for _ in range(clients)]
    admin = connections[0]
    admin.execute(f"CREATE TABLE {counter} (id INTEGER PRIMARY KEY, last_number INTEGER)")
    admin.execute(
        f"CREATE TABLE {rows} (id INTEGER PRIMARY KEY, number INTEGER NOT NULL, "
        "code TEXT NOT NULL, created_at TEXT NOT NULL)"
    )
    admin.executemany(
        f"INSERT INTO {counter} VALUES (?, 0)", [(i,) for i in range(tables.counters)]
    )
    writer = threading.Lock()  # the same one-writer path Database uses on SQLite

    def transact(index: int, n: int) -> None:
        conn = connections[index]
        with writer:
            conn.execute("BEGIN IMMEDIATE")
            try:
                ((number,),) = conn.execute(
                    f"UPDATE {counter} SET last_number = last_number + 1 WHERE id = ? "
                    "RETURNING last_number",
                    (n % tables.counters,),
                ).fetchall()
                conn.execute(
                    f"INSERT INTO {rows} (number, code, created_at) VALUES (?, ?, ?)",
                    (number, f"BN-{number:03d}", dt.datetime.now(dt.UTC).isoformat()),
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    try:
        return _bare_clients(transact, clients, tokens)
    finally:
        admin.execute(f"DROP TABLE {counter}")
        admin.execute(f"DROP TABLE {rows}")
        for conn in connections:
            conn.close()


def _sqlite_connect(path: str) -> sqlite3.Connection:
    """Open sqlite3 with the pragmas ``make_engine`` uses (WAL, busy timeout, NORMAL sync)."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    for pragma in ("journal_mode=WAL", "busy_timeout=30000", "synchronous=NORMAL"):
        conn.execute(f"PRAGMA {pragma}")
    return conn
