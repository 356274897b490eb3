"""Tenant scoping comes with every ``Database``: no entry point has to import a module for it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from db.engine import ALL_TENANTS
from db.models import Branch, Department
from tests.support import make_clinic

ROOT = Path(__file__).resolve().parents[2]

# Runs in a fresh interpreter: only db.engine and the models are imported, nothing of the app.
PROBE = """
import json, sys
from sqlalchemy import select, text
from db.engine import Database
from db.models import Branch, Department

url, mine = sys.argv[1], int(sys.argv[2])
database = Database.from_url(url)
with database.transaction(mine, readonly=True) as session:
    seen = {row.tenant_id for row in session.scalars(select(Branch))}
    seen |= {row.tenant_id for row in session.scalars(select(Department))}
    rls = None
    if database.dialect == "postgresql":
        rls = session.execute(text("SELECT current_setting('app.tenant_id', true)")).scalar()
database.dispose()
loaded = sorted({m.split(".")[0] for m in sys.modules} & {"qlink", "core", "apps", "tests"})
print(json.dumps({"seen": sorted(seen), "rls": rls, "loaded": loaded}))
"""


def test_fresh_process_with_only_a_database_sees_one_clinic(db):
    with db.transaction(ALL_TENANTS) as s:
        a, b = make_clinic(s), make_clinic(s)
    url = db.engine.url.render_as_string(hide_password=False)
    result = subprocess.run(
        [sys.executable, "-c", PROBE, url, str(a.tenant_id)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    probe = json.loads(result.stdout)
    assert probe["loaded"] == []
    assert probe["seen"] == [a.tenant_id]  # clinic b's branch and department stay invisible
    if db.dialect == "postgresql":  # the second wall gets the same scope
        assert probe["rls"] == str(a.tenant_id)
    with db.transaction(ALL_TENANTS, readonly=True) as s:  # the rows are there to be hidden
        everyone = set(s.scalars(select(Branch.tenant_id)))
    assert {a.tenant_id, b.tenant_id} <= everyone


def test_joined_test_session_is_scoped_like_a_transaction(db):
    with db.engine.connect() as conn:
        outer = conn.begin()
        setup = db.session_for(conn, ALL_TENANTS)
        a, b = make_clinic(setup), make_clinic(setup)
        setup.commit()  # releases its savepoint; the outer transaction still rolls back
        setup.close()
        scoped = db.session_for(conn, a.tenant_id)
        try:
            seen = set(scoped.scalars(select(Department.tenant_id)))
        finally:
            scoped.close()
            outer.rollback()
    assert seen == {a.tenant_id} and b.tenant_id not in seen
