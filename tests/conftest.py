"""Database fixtures parametrised over SQLite and PostgreSQL.

PostgreSQL skips locally when unreachable and fails when CI=true. Each run gets a fresh
database (PostgreSQL) or file (SQLite), migrated with Alembic like production.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from core.auth.passwords import use_cheap_parameters_for_tests
from db.engine import ALL_TENANTS, Database, make_engine
from db.migrate import upgrade
from tests.support import Clinic, make_clinic

use_cheap_parameters_for_tests()
CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
PG_ADMIN_URL = os.environ.get(
    "QLINK_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
BACKENDS = ["sqlite", "postgresql"]
_ran: set[str] = set()


def pytest_report_header(config: pytest.Config) -> str:
    return f"qlink backends: {', '.join(BACKENDS)} (CI={CI})"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    terminalreporter.write_line(f"qlink database backends exercised: {sorted(_ran) or 'none'}")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    # Under pytest-xdist the fixtures run in workers; their reports carry the backend here.
    _ran.update(value for name, value in report.user_properties if name == "qlink_backend")


def _unavailable(reason: str) -> None:
    if CI:
        pytest.fail(f"{reason} (required when CI=true)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def _sqlite_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    path = tmp_path_factory.mktemp("sqlite") / "qlink-test.db"
    database = Database(make_engine(f"sqlite:///{path}"))
    upgrade(database.engine)
    yield database
    database.dispose()


@contextmanager
def _new_postgresql_database() -> Iterator[str]:
    """Create an empty PostgreSQL database, yield its URL, drop it afterwards."""
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"qlink_test_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        admin.dispose()
        _unavailable(f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc.orig}")
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def _postgresql_db() -> Iterator[Database]:
    with _new_postgresql_database() as url:
        database = Database(make_engine(url, pool_size=30))
        upgrade(database.engine)
        yield database
        database.dispose()


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest) -> Database:
    """A migrated database on each backend; what a test commits here stays committed."""
    database: Database = request.getfixturevalue(f"_{request.param}_db")
    _ran.add(request.param)
    request.node.user_properties.append(("qlink_backend", request.param))
    return database


@pytest.fixture(params=BACKENDS)
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a new, empty database on each backend (start-up, migration and key tests)."""
    _ran.add(request.param)
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    with _new_postgresql_database() as url:
        yield url


@pytest.fixture
def pg_db(request: pytest.FixtureRequest) -> Database:
    """The PostgreSQL database only (for RLS and row-lock tests)."""
    database: Database = request.getfixturevalue("_postgresql_db")
    _ran.add("postgresql")
    request.node.user_properties.append(("qlink_backend", "postgresql"))
    return database


@pytest.fixture
def session(db: Database) -> Iterator[Session]:
    """A session inside an outer transaction that is rolled back after the test."""
    with db.engine.connect() as conn:
        outer = conn.begin()
        sess = db.session_for(conn, ALL_TENANTS)  # personas of several clinics share it
        try:
            yield sess
        finally:
            sess.close()
            outer.rollback()


@pytest.fixture
def clinic_a(session: Session) -> Clinic:
    return make_clinic(session, "clinic-a")


@pytest.fixture
def clinic_b(session: Session) -> Clinic:
    return make_clinic(session, "clinic-b")
