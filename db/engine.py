"""Engine factory and the one ``transaction()`` that owns commits."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

from db.scoping import ALL_TENANTS, install_scoping, scope_session, set_rls_scope
from db.staging import install_staging

AFTER_COMMIT = "qlink.after_commit"
__all__ = [
    "AFTER_COMMIT",
    "ALL_TENANTS",
    "Database",
    "make_engine",
    "scope_session",
    "set_rls_scope",
]


def make_engine(url: str, *, pool_size: int = 10, echo: bool = False) -> Engine:
    """Create an engine tuned for its dialect."""
    if url.startswith("sqlite"):
        return _sqlite_engine(url, echo=echo)
    engine = create_engine(
        url, pool_size=pool_size, max_overflow=pool_size * 2, pool_pre_ping=True, echo=echo
    )
    return engine


def _sqlite_engine(url: str, *, echo: bool) -> Engine:
    path = url.split("///", 1)[-1] if "///" in url else ""
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, echo=echo, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: ConnectionPoolEntry) -> None:
        # Hand transaction control to SQLAlchemy (pysqlite's own BEGIN handling is broken
        # for savepoints), then turn on WAL, foreign keys and a busy timeout.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Writers take the lock up front: a deferred BEGIN that later upgrades to a write
        # can deadlock against another writer and fail with "database is locked".
        readonly = conn.get_execution_options().get("qlink_readonly", False)
        conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")

    return engine


class Database:
    """An engine plus session factories; the composition root builds one per process.

    Every session it makes carries the tenant scoping (ORM filter and PostgreSQL RLS scope):
    the factories get it here, so no entry point has to remember an import.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._readonly = sessionmaker(
            engine.execution_options(qlink_readonly=True), expire_on_commit=False
        )
        install_scoping(self._sessions)
        install_scoping(self._readonly)
        install_staging(self._sessions)  # staged work (the audit chain) runs just before commit
        # SQLite hands its write lock out unfairly (waits of seconds under contention);
        # one in-process writer path keeps tail latency flat.
        self._write_lock = FairLock() if self.dialect == "sqlite" else None
        # Work to run after a transaction commits (the composition root installs it, e.g. the
        # queue's ETA projector). A session whose owner will run it carries AFTER_COMMIT in its
        # ``info``: code writing in the transaction leaves requests there (see
        # ``core.queue.projection``); without a hook that code does the work inline.
        self.after_commit: Callable[[Database, dict[str, Any]], None] | None = None

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> Database:
        return cls(make_engine(url, **kwargs))

    @contextmanager
    def transaction(
        self, tenant_id: int | str | None, *, readonly: bool = False
    ) -> Iterator[Session]:
        """Open a session scoped to ``tenant_id``, commit on success, roll back on error."""
        lock = None if readonly else self._write_lock
        if lock is not None:
            lock.acquire()
        try:
            factory = self._readonly if readonly else self._sessions
            hook = None if readonly else self.after_commit
            with factory() as session:
                scope_session(session, tenant_id)
                if hook is not None:
                    session.info[AFTER_COMMIT] = True
                with session.begin():
                    yield session
                info = dict(session.info)
        finally:
            if lock is not None:
                lock.release()
        if hook is not None:
            hook(self, info)  # after commit and after the SQLite writer lock is released

    def session_for(self, connection: Connection, tenant_id: int | str | None) -> Session:
        """Return a scoped session joined to ``connection``'s transaction (commits are savepoints).

        For tests that roll an outer transaction back (SQLAlchemy's "join a session into an
        external transaction" recipe); the caller closes the session.
        """
        session = self._sessions(bind=connection, join_transaction_mode="create_savepoint")
        scope_session(session, tenant_id)
        return session

    def dispose(self) -> None:
        self.engine.dispose()


class FairLock:
    """A first-come, first-served lock: SQLite writers get the database in arrival order.

    ``threading.Lock`` hands itself to whichever waiter the OS wakes first, so under a burst
    of writers one thread can wait seconds while others go round again (tail latency).
    """

    def __init__(self) -> None:
        self._state = threading.Condition(threading.Lock())
        self._next_ticket = 0
        self._serving = 0
        self._abandoned: set[int] = set()

    def acquire(self) -> None:
        with self._state:
            ticket = self._next_ticket
            self._next_ticket += 1
            try:
                while ticket != self._serving:
                    self._state.wait()
            except BaseException:  # interrupted while queueing: give the place up
                if ticket == self._serving:
                    self._advance()
                else:
                    self._abandoned.add(ticket)
                raise

    def release(self) -> None:
        with self._state:
            self._advance()

    def _advance(self) -> None:
        self._serving += 1
        while self._serving in self._abandoned:
            self._abandoned.discard(self._serving)
            self._serving += 1
        self._state.notify_all()
