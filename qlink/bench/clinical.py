"""``qlink bench clinical``: the doctor's two hot paths on a patient with a long history.

Setup is not measured: a throwaway clinic ``bench-clinical-<hex>`` built with the clinic
builder and core commands only. One patient has ``--visits`` past consultations (notes,
vitals, diagnosis, a two-medicine prescription, each finished through ``finish_visit``) spread
over the last 90 days, with allergies and conditions; ``--others`` further patients per working
day give the clinic its history. Then, each in its own transaction as the doctor page does:

* the patient at a glance (``patient_at_a_glance``, audited), beside a bare primary-key read of
  the same patient;
* finishing a visit (``finish_visit``: record final, prescription issued, bill, token done and
  the PDF job in the outbox; the PDF is rendered later by the relay), beside a bare one-row
  insert transaction.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import time
import uuid
from collections.abc import Callable
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, text

from core.auth.users import actor_for
from core.clinical import records
from core.clinical.consultations import open_consultation
from core.clinical.finish import finish_visit
from core.clinical.glance import patient_at_a_glance
from core.clinical.medicines import MedicineLine
from core.clinical.prescriptions import save_prescription
from core.clinical.vitals import VitalsInput
from core.clock import FrozenClock
from core.context import Actor
from core.patients import PhoneVault, background
from core.patients.importing import PatientRow, import_patients
from core.queue.calling import call_next
from core.queue.issuing import issue_token
from db.engine import ALL_TENANTS, Database, make_engine
from db.migrate import upgrade
from db.models import OutboxMessage, Patient
from qlink import builder
from qlink.bench.common import positive_int, progress, safe_url, summarise, table
from qlink.settings import Settings

GLANCE_TARGET_MS = 150.0
FINISH_TARGET_MS = 500.0
ZONE = ZoneInfo("Asia/Kolkata")
LINES = (
    MedicineLine("Ibuprofen", "1-0-1", strength="400mg", timing="after_food", duration_days=7),
    MedicineLine("Calcium", "1-0-0", strength="500mg", timing="after_food", duration_days=30),
)


@dataclasses.dataclass
class Bench:
    database: Database
    vault: PhoneVault
    system: Actor
    desk: Actor
    doctor: Actor
    doctor_id: int
    department_id: int
    patient_id: int


def configure(parser: argparse.ArgumentParser) -> None:
    """Add this command's options."""
    parser.add_argument("--visits", type=positive_int, default=40, help="past visits (40)")
    parser.add_argument("--others", type=positive_int, default=3, help="other visits/day (3)")
    parser.add_argument("--reads", type=positive_int, default=60, help="glance reads (60)")
    parser.add_argument("--finishes", type=positive_int, default=30, help="visits finished (30)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Build the clinic, measure, print the report; exit 1 if a target was missed."""
    database = Database(make_engine(settings.database_url))
    try:
        progress(f"database: {safe_url(settings.database_url)}")
        upgrade(database.engine)
        bench = _build(database, PhoneVault(settings.data_key), args)
        if database.dialect == "postgresql":
            with database.engine.begin() as conn:
                conn.execute(text("ANALYZE"))
        report = measure(bench, reads=args.reads, finishes=args.finishes)
    finally:
        database.dispose()
    print(json.dumps(report) if args.json else render(report))
    return 0 if report["checks"]["ok"] else 1


def measure(bench: Bench, *, reads: int, finishes: int) -> dict[str, Any]:
    """Time the glance and finish-visit beside their baselines; return the report."""
    db, now = bench.database, _today(10)
    doctor = dataclasses.replace(bench.doctor, clock=FrozenClock(now))
    timings: dict[str, list[float]] = {k: [] for k in ("glance", "pk read", "finish", "insert")}
    visits = 0
    for i in range(reads + 5):
        glance = _timed(lambda: _glance(db, doctor, bench.patient_id, bench.system.tenant_id))
        base = _timed(lambda: _pk_read(db, bench.patient_id, bench.system.tenant_id))
        if i >= 5:  # warm-up
            timings["glance"].append(glance[0])
            timings["pk read"].append(base[0])
            visits = glance[1] or 0
    for i in range(finishes):
        at = now + dt.timedelta(minutes=i)
        cid = _ready_visit(bench, at)
        actor = dataclasses.replace(bench.doctor, clock=FrozenClock(at))
        timings["finish"].append(_timed(partial(_finish, db, actor, cid))[0])
        timings["insert"].append(_timed(partial(_bare_insert, db, bench.system, at))[0])
    phases = {k: summarise(v, sum(v)).as_dict() for k, v in timings.items()}
    glance_ok = phases["glance"]["p50_ms"] < GLANCE_TARGET_MS
    finish_ok = phases["finish"]["p50_ms"] < FINISH_TARGET_MS
    pg = db.dialect == "postgresql"
    return {
        "benchmark": "clinical",
        "dialect": db.dialect,
        "visits_on_glance": visits,
        "phases": phases,
        "checks": {
            "glance_target": glance_ok if pg else "n/a (SQLite)",
            "finish_target": finish_ok if pg else "n/a (SQLite)",
            "ok": (glance_ok and finish_ok) or not pg,
        },
    }


def render(report: dict[str, Any]) -> str:
    """Render the report as text."""
    rows = [
        (kind, p["ops"], p["p50_ms"], p["p95_ms"], p["max_ms"])
        for kind, p in report["phases"].items()
    ]
    checks = report["checks"]
    return "\n".join(
        [
            f"qlink bench clinical on {report['dialect']}: "
            f"glance of a patient with {report['visits_on_glance']} visits",
            table(("operation", "n", "p50 ms", "p95 ms", "max ms"), rows),
            "baselines: 'pk read' = a bare primary-key read of the patient in its own "
            "transaction; 'insert' = a bare one-row insert transaction",
            f"glance p50 < {GLANCE_TARGET_MS:.0f} ms: {checks['glance_target']}",
            f"finish p50 < {FINISH_TARGET_MS:.0f} ms (no PDF inline): {checks['finish_target']}",
        ]
    )


def _timed(action: Callable[[], int | None]) -> tuple[float, int | None]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def _glance(db: Database, doctor: Actor, patient_id: int, tenant_id: int | None) -> int:
    with db.transaction(tenant_id) as session:
        return len(patient_at_a_glance(session, doctor, patient_id).visits)


def _pk_read(db: Database, patient_id: int, tenant_id: int | None) -> None:
    with db.transaction(tenant_id) as session:
        session.get(Patient, patient_id)


def _finish(db: Database, doctor: Actor, consultation_id: int) -> None:
    with db.transaction(doctor.tenant_id) as session:
        finish_visit(session, doctor, consultation_id=consultation_id)


def _bare_insert(db: Database, system: Actor, at: dt.datetime) -> None:
    with db.transaction(system.tenant_id) as session:
        session.execute(
            insert(OutboxMessage).values(
                tenant_id=system.tenant_id,
                kind="bench.noop",
                payload={},
                status="parked",
                available_at=at,
                created_at=at,
                attempts=0,
            )
        )


def _today(hour: int) -> dt.datetime:
    day = dt.datetime.now(ZONE).date()
    while day.weekday() > 4:
        day += dt.timedelta(days=1)
    return dt.datetime.combine(day, dt.time(hour), ZONE).astimezone(dt.UTC)


def _build(database: Database, vault: PhoneVault, args: argparse.Namespace) -> Bench:
    slug = f"bench-clinical-{uuid.uuid4().hex[:10]}"
    progress(f"building clinic {slug}")
    with database.transaction(ALL_TENANTS) as session:
        built = builder.open_clinic(session, builder.ClinicSpec(slug=slug, name="Clinical bench"))
        system = built.system
        dept = builder.add_department(
            session, system, branch_id=built.branch.id, spec=builder.DepartmentSpec("ORT", "Ortho")
        )
        doctor = builder.add_doctor(
            session, system, department=dept, spec=builder.DoctorSpec("Dr. Kumar", room="Room 3")
        )
        login = builder.StaffSpec(f"dr.{slug}", uuid.uuid4().hex, "Dr. Kumar", "doctor")
        dr = actor_for(
            builder.add_doctor_login(
                session, system, doctor=doctor, branch_id=built.branch.id, login=login
            )
        )
        desk_spec = builder.StaffSpec(f"desk.{slug}", uuid.uuid4().hex, "Desk", "receptionist")
        desk = actor_for(
            builder.add_staff(session, system, branch_id=built.branch.id, spec=desk_spec)
        )
        (patient_id,) = import_patients(
            session, system, vault=vault, rows=[PatientRow("Ramesh Iyer")]
        ).ids
        background.add_allergy(session, system, patient_id, substance="Penicillin")
        background.add_allergy(session, system, patient_id, substance="Sulfa drugs")
        background.add_condition(session, system, patient_id, name="Type 2 diabetes")
        background.add_medication(session, system, patient_id, name="Metformin 500mg")
        doctor_id, dept_id = doctor.id, dept.id
    bench = Bench(database, vault, system, desk, dr, doctor_id, dept_id, patient_id)
    _history(bench, args.visits, args.others)
    return bench


def _history(bench: Bench, visits: int, others: int) -> None:
    days = [_today(9).date() - dt.timedelta(days=n) for n in range(90, 0, -1)]
    days = [d for d in days if d.weekday() <= 4]
    mine = set(days[-visits:]) if visits <= len(days) else set(days)
    progress(f"history: {len(days)} working days, {len(mine)} visits of the patient")
    for day in days:
        at = dt.datetime.combine(day, dt.time(10), ZONE).astimezone(dt.UTC)
        with bench.database.transaction(bench.system.tenant_id) as session:
            patients = import_patients(
                session,
                bench.system,
                vault=bench.vault,
                rows=[PatientRow(f"Visitor {day:%m%d} {i}") for i in range(others)],
            ).ids
        for i, pid in enumerate([*patients, *([bench.patient_id] if day in mine else [])]):
            when = at + dt.timedelta(minutes=10 * i)
            cid = _ready_visit(bench, when, patient_id=pid)
            _finish(bench.database, dataclasses.replace(bench.doctor, clock=FrozenClock(when)), cid)


def _ready_visit(bench: Bench, at: dt.datetime, *, patient_id: int | None = None) -> int:
    """A patient called in and the record written, ready to be finished; return the visit."""
    clock = FrozenClock(at)
    desk = dataclasses.replace(bench.desk, clock=clock)
    dr = dataclasses.replace(bench.doctor, clock=clock)
    with bench.database.transaction(bench.system.tenant_id) as session:
        token = issue_token(
            session,
            desk,
            patient_id=patient_id or bench.patient_id,
            department_id=bench.department_id,
            kind="walk_in",
            doctor_id=bench.doctor_id,
        )
        call_next(session, dr, doctor_id=bench.doctor_id)
        cid = open_consultation(session, dr, token_id=token.id).id
        records.record_vitals(
            session,
            dr,
            consultation_id=cid,
            vitals=VitalsInput(bp_systolic=130, bp_diastolic=84, weight_kg=78, height_cm=172),
        )
        records.record_notes(
            session, dr, consultation_id=cid, chief_complaint="Knee pain", examination="Crepitus"
        )
        records.add_diagnosis(session, dr, consultation_id=cid, description="Osteoarthritis")
        save_prescription(session, dr, consultation_id=cid, lines=LINES, advice="Hot compress")
        return cid
