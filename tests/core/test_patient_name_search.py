"""Tolerant patient name search: spelling variants, near misses, ranking, tenancy, indexes."""

from __future__ import annotations

import uuid

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect, literal, select, text
from sqlalchemy.exc import OperationalError

from core.patients import PhoneVault, register_patient, search_patients
from core.patients.search import _statement
from core.patients.spelling import FOLDS, fold_name, fold_name_sql
from db.engine import make_engine
from db.migrate import alembic_config, upgrade
from tests.conftest import BACKENDS, PG_ADMIN_URL, _unavailable

TRIGRAM_INDEXES = {"ix_patients_name_key_trgm", "ix_patients_name_fold_trgm"}


@pytest.fixture
def vault():
    return PhoneVault("test-data-key")


@pytest.fixture
def register(session, clinic_a, vault):
    def make(*names, actor=None):
        for name in names:
            register_patient(session, actor or clinic_a.receptionist, vault=vault, full_name=name)

    return make


@pytest.fixture
def names(session, clinic_a, vault):
    def found(query, actor=None):
        hits = search_patients(session, actor or clinic_a.receptionist, vault=vault, query=query)
        return [hit.full_name for hit in hits]

    return found


def test_kavita_finds_kavitha_raman(register, names):
    register("Kavitha Raman", "Anand Rao")
    assert names("Kavita") == ["Kavitha Raman"]


@pytest.mark.parametrize(
    ("query", "stored"),
    [
        ("Laxmi", "Lakshmi Krishnan"),
        ("Dipa", "Deepa Nair"),
        ("Palavi", "Pallavi Patil"),
        ("Falguni", "Phalguni Shah"),
        ("Saurav", "Sourav Das"),
        ("Swetha", "Shwetha Rao"),
        ("Vaishnavi", "Waishnavi Joshi"),
        ("Sreejith", "Srijith Nair"),
    ],
)
def test_common_indian_spelling_variants_find_each_other(register, names, query, stored):
    register(stored, "Anand Rao")
    assert names(query) == [stored]


def test_misspelling_ranks_below_exact_and_prefix_matches(register, names):
    register("Kavitha Raman", "Kavita Sharma", "Kavita", "Priya Kavita Iyer")
    assert names("Kavita") == ["Kavita", "Kavita Sharma", "Priya Kavita Iyer", "Kavitha Raman"]
    assert names("Kavitha") == ["Kavitha Raman", "Kavita", "Kavita Sharma", "Priya Kavita Iyer"]


def test_near_miss_is_found_by_trigram_similarity_on_postgresql(session, register, names):
    if session.connection().dialect.name != "postgresql":
        pytest.skip("trigram similarity is PostgreSQL only; SQLite matches spelling folds")
    register("Karthik Subramanian", "Subramaniam Iyer", "Anand Rao")
    assert names("Subramaniam") == ["Subramaniam Iyer", "Karthik Subramanian"]


def test_short_entries_match_literally_not_by_spelling(register, names):
    register("Shanti Bose", "Santosh Pawar")
    assert names("sh") == ["Shanti Bose"]  # two letters: the start of a name or word only
    assert names("sa") == ["Santosh Pawar"]  # "shanti" folds to "santi", but not at two letters
    assert names("sha") == ["Shanti Bose"]  # folds to "sa": too short to be tolerant


def test_another_clinics_patients_never_appear(session, clinic_a, clinic_b, register, names):
    register("Kavitha Raman")
    register("Kavita Sharma", actor=clinic_b.receptionist)
    assert names("Kavita", actor=clinic_b.receptionist) == ["Kavita Sharma"]
    assert names("Kavitha", actor=clinic_a.receptionist) == ["Kavitha Raman"]
    register("Karthik Subramanian")
    assert names("Subramaniam", actor=clinic_b.receptionist) == []


def test_limit_bounds_tolerant_results(register, names, session, clinic_a, vault):
    register(*(f"Kavitha Patient{n}" for n in range(5)))
    hits = search_patients(session, clinic_a.receptionist, vault=vault, query="Kavita", limit=3)
    assert len(hits) == 3


def test_sql_fold_equals_python_fold(session):
    samples = ["kavitha raman", "lakshmi", "laxmi", "phalguni", "pallavi", "sourav", "अनीता शर्मा"]
    for name in samples:
        assert session.scalar(select(fold_name_sql(literal(name)))) == fold_name(name)


def test_trigram_indexes_exist_on_postgresql_only(db):
    indexes = {ix["name"] for ix in inspect(db.engine).get_indexes("patients")}
    expected = TRIGRAM_INDEXES if db.engine.dialect.name == "postgresql" else set()
    assert indexes & TRIGRAM_INDEXES == expected


def test_postgresql_name_search_uses_the_trigram_indexes(pg_db, vault):
    statement = _statement("name", "kavita", vault, postgres=True)
    assert statement is not None
    with pg_db.engine.connect() as conn:
        conn.execute(text("SET LOCAL enable_seqscan = off"))
        compiled = statement.compile(conn)
        rows = conn.exec_driver_sql(f"EXPLAIN {compiled.string}", compiled.params)
        plan = "\n".join(row[0] for row in rows)
        conn.rollback()
    assert all(name in plan for name in TRIGRAM_INDEXES), plan


def test_fold_replacements_are_plain_letters_safe_to_inline_in_sql():
    assert all(part == "" or (part.isascii() and part.isalpha()) for pair in FOLDS for part in pair)


@pytest.fixture(params=BACKENDS)
def fresh_engine(request, tmp_path):
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'migrations.db'}")
        yield engine
        engine.dispose()
        return
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"qlink_migr_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        admin.dispose()
        _unavailable(f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc.orig}")
    engine = make_engine(PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}")
    yield engine
    engine.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _downgrade(engine, revision):
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def _trigram_indexes(engine):
    return {ix["name"] for ix in inspect(engine).get_indexes("patients")} & TRIGRAM_INDEXES


def test_trigram_migration_upgrades_and_downgrades(fresh_engine):
    expected = TRIGRAM_INDEXES if fresh_engine.dialect.name == "postgresql" else set()
    upgrade(fresh_engine, "0005")
    assert _trigram_indexes(fresh_engine) == expected
    _downgrade(fresh_engine, "0004")
    assert _trigram_indexes(fresh_engine) == set()
    upgrade(fresh_engine, "0005")
    assert _trigram_indexes(fresh_engine) == expected
