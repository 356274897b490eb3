"""Shared set-up of the doctor app's AppTests: a clinic, two doctors, their logins, a patient.

Each test gets its own clinic in one migrated SQLite file (module scope), signed in through
core and handed to the app (AppTest cannot send the sign-in route's cookie).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from core.auth.users import authenticate, create_user
from core.patients import PhoneVault, register_patient
from core.queue.issuing import issue_token
from db.engine import ALL_TENANTS, Database, make_engine
from db.migrate import upgrade
from db.models import QueueToken
from qlink import builder
from qlink.builder import DoctorSpec, Hours
from tests.support import Clinic, make_clinic

APP = Path(__file__).resolve().parents[2] / "apps" / "doctor" / "app.py"
DATA_KEY = "ui-test-data-key"
PASSWORD = "correct-horse-1"
ALL_DAY = Hours((0, 1, 2, 3, 4, 5, 6), start=dt.time(0), end=dt.time(23, 59), breaks=())


@contextmanager
def app_database(tmp_path_factory: pytest.TempPathFactory, name: str) -> Iterator[Database]:
    """A migrated SQLite file the apps under test read through the environment (module scope)."""
    var = tmp_path_factory.mktemp(name)
    url = f"sqlite:///{var / 'qlink.db'}"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("QLINK_DATABASE_URL", url)
        env.setenv("QLINK_VAR_DIR", str(var))
        env.setenv("QLINK_DATA_KEY", DATA_KEY)
        for key in ("QLINK_SECRET_KEY", "QLINK_TIMEZONE", "QLINK_PUBLIC_URL"):
            env.delenv(key, raising=False)
        database = Database(make_engine(url))
        upgrade(database.engine)
        try:
            yield database
        finally:
            database.dispose()


@dataclass
class Room:
    database: Database
    clinic: Clinic
    doctor_user: str
    receptionist: str
    doctor_id: int
    colleague_id: int
    department_id: int
    ravi_id: int

    @property
    def tenant_id(self) -> int:
        return self.clinic.tenant_id


def make_room(database: Database) -> Room:
    slug = f"r{uuid.uuid4().hex[:8]}"
    with database.transaction(ALL_TENANTS) as session:
        clinic = make_clinic(session, slug)
        doctors = []
        for name, room in (("Dr. Kumar Iyer", "Room 3"), ("Dr. Asha Rao", "Room 4")):
            spec = DoctorSpec(name, fee_minor=50000, room=room, hours=(ALL_DAY,))
            doctors.append(
                builder.add_doctor(session, clinic.admin, department=clinic.department, spec=spec)
            )
        create_user(
            session, clinic.admin, username=f"doc.{slug}", password=PASSWORD,
            full_name="Kumar Iyer", role="doctor", doctor_id=doctors[0].id,
        )  # fmt: skip
        ravi = register_patient(
            session, clinic.receptionist, vault=PhoneVault(DATA_KEY), full_name="Ravi Sharma",
            phone="9876543210", age_years=58, gender="m",
        ).patient  # fmt: skip
        return Room(
            database, clinic, f"doc.{slug}", f"receptionist.{slug}", doctors[0].id,
            doctors[1].id, clinic.department.id, ravi.id,
        )  # fmt: skip


def walk_in(room: Room, patient_id: int | None = None, *, pool: bool = False) -> int:
    """Give the patient (Ravi by default) a walk-in token for the doctor (or the pool)."""
    with room.database.transaction(room.tenant_id) as session:
        issued = issue_token(
            session, room.clinic.receptionist, patient_id=patient_id or room.ravi_id,
            department_id=room.department_id, kind="walk_in",
            doctor_id=None if pool else room.doctor_id,
        )  # fmt: skip
        return issued.id


def signed_in(room: Room, username: str | None = None) -> AppTest:
    with room.database.transaction(ALL_TENANTS) as session:
        attempt = authenticate(
            session, username=username or room.doctor_user, password=PASSWORD,
            now=dt.datetime.now(dt.UTC),
        )  # fmt: skip
    at = AppTest.from_file(APP, default_timeout=30)
    at.session_state["qlink_session_secret"] = attempt.unwrap()[1]
    at.run()
    assert not at.exception, at.exception
    return at


def token(room: Room, token_id: int) -> QueueToken:
    with room.database.transaction(ALL_TENANTS, readonly=True) as session:
        row = session.scalar(select(QueueToken).where(QueueToken.id == token_id))
        assert row is not None
        session.expunge(row)
        return row


def text(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += [e.value for e in at.error] + [w.value for w in at.warning]
    parts += [s.value for s in at.success] + [i.value for i in at.info]
    parts += [h.value for h in at.subheader]
    return "\n".join(parts)
